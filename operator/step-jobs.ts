// The edge between a decision and a Job: turns "start step X of the frozen
// plan" into the Job object. The spec comes from status.run (what the run froze
// when it started), never from the live spec, so an edit mid-run cannot point a
// revert or a restore at another database or another image.
import type { V1Job } from '@kubernetes/client-node';
import {
  validateSpec,
  type DatabaseMigration,
  type DatabaseMigrationStatus,
} from '../crds/database-migration.js';
import { buildJob, type JobBuildConfig } from './job-builder.js';
import { frozenSpec, type Action } from './reconciler.js';

export type StartStep = Extract<Action, { kind: 'startStep' }>;

export function jobForStep(
  dm: DatabaseMigration,
  status: DatabaseMigrationStatus,
  intent: StartStep,
  config: JobBuildConfig,
): V1Job {
  const frozen = frozenSpec(status) ?? legacySpec(dm);
  // Once a Pod of the run resolved the migrations image, every later Job uses that digest.
  const pinned = status.run?.migrationsImageDigest;
  const spec =
    pinned && frozen.migrations.image
      ? { ...frozen, migrations: { ...frozen.migrations, image: pinned } }
      : frozen;
  return buildJob({ ...dm, spec }, intent.run, intent.step, config, intent.params);
}

/** A run started before runs were frozen (an operator upgrade mid-run) uses the live spec. */
function legacySpec(dm: DatabaseMigration): DatabaseMigration['spec'] {
  const parsed = validateSpec(dm.spec);
  if (!parsed.ok) throw new Error(`no frozen plan and the live spec is invalid at ${parsed.field}`);
  return parsed.spec;
}
