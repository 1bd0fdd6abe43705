// The DatabaseMigration API (dbmigrate.io/v1alpha1): the single source of truth.
// The CRD's OpenAPI schema is generated from these zod schemas (crds/generate.ts)
// and the operator validates every object with them again before acting.
import { z } from 'zod';
import type { FindingCategory } from './job-result.js';
import { BackupSpec } from './spec/backup.js';
import { cel } from './spec/common.js';
import { DatabaseSpec } from './spec/database.js';
import { readOnlySqlProblem } from './spec/read-only-sql.js';
import { JobTemplateSpec } from './spec/job-template.js';
import { MigrationsSource } from './spec/migrations.js';
import { RollbackSpec } from './spec/rollback.js';
import { CheckSpec, SafetySpec } from './spec/safety.js';
import { TimeoutsSpec } from './spec/timeouts.js';
import { WorkloadRef } from './spec/workloads.js';
import type { DatabaseMigrationStatus } from './status.js';

// The spec's sections and the status live in crds/spec/ and crds/status.ts;
// everything they export is exported here too, as it always was.
export {
  SecretKeyRef,
  ConnectionSecretRef,
  ConfigMapKeyRef,
  TlsSpec,
  DatabaseSpec,
  targetKeyOf,
  targetKey,
  scrubTarget,
  hostName,
  sslModeOf,
  type SslMode,
} from './spec/database.js';
export { isWithin, MigrationsSource } from './spec/migrations.js';
export { BackupSpec } from './spec/backup.js';
export { SafetySpec, CheckSpec } from './spec/safety.js';
export { WorkloadRef } from './spec/workloads.js';
export { RollbackSpec } from './spec/rollback.js';
export { TimeoutsSpec } from './spec/timeouts.js';
export { JobTemplateSpec } from './spec/job-template.js';
export { phases, Phase, Condition, RunHistoryEntry, FrozenRun, DatabaseMigrationStatus } from './status.js';

export const GROUP = 'dbmigrate.io';
export const VERSION = 'v1alpha1';
export const KIND = 'DatabaseMigration';
export const PLURAL = 'databasemigrations';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The annotation that asks for a new run of the same generation (e.g. after a failure). Its value is any new token. */
export const RETRY_ANNOTATION = 'dbmigrate.io/retry';

export const DatabaseMigrationSpec = z
  .object({
    database: DatabaseSpec,
    migrations: MigrationsSource,
    // Required, not defaulted: a backup is on by default but needs a volume, so
    // every resource states where its backups go (or that it has none).
    backup: BackupSpec,
    safety: SafetySpec.prefault({}),
    check: CheckSpec.optional(),
    onFailure: z
      .enum(['none', 'revert', 'restore'])
      .default('none')
      .describe(
        'On a failed migration: leave it, revert what this run applied, or restore the backup (emergency rollback).',
      ),
    restoreWorkloads: z
      .array(WorkloadRef)
      .max(20)
      .default([])
      .describe(
        'Workloads scaled to zero before writes could be lost (see stopWorkloads) and back to their recorded replicas when the run ends.',
      ),
    stopWorkloads: z
      .enum(['beforeBackup', 'onRestore'])
      .default('onRestore')
      .describe(
        'When restoreWorkloads stop. onRestore: only before a restore (writes between the backup and the restore are lost). beforeBackup: before the backup Job starts (or, with backup disabled, before the migrate or requested revert), their Pods waited gone, so a restore loses no write; they come back when the run ends in any phase, except after a failed restore (the database is then in between and needs a human).',
      ),
    stopWorkloadsTimeoutSeconds: z
      .number()
      .int()
      .min(10)
      .max(86400)
      .default(300)
      .describe(
        "How long a run waits for restoreWorkloads' Pods to be gone (something may keep scaling them back: an HPA, KEDA, Argo CD self-heal); then it ends Failed and Stalled, naming the workload and who scaled it back.",
      ),
    rollback: RollbackSpec.optional(),
    timeouts: TimeoutsSpec.prefault({}).describe(
      'PostgreSQL timeouts of the migration statements and locks.',
    ),
    verification: z
      .object({
        queries: z
          .array(
            z
              .string()
              .min(1)
              .max(4000)
              .superRefine((q, ctx) => {
                const problem = readOnlySqlProblem(q);
                if (problem) ctx.addIssue({ code: 'custom', message: problem });
              }),
          )
          .max(20)
          .default([])
          .describe(
            'Each query must be one SELECT (or WITH ... SELECT: no data-modifying WITH, no SELECT INTO, no FOR UPDATE/SHARE) returning one row whose only column is true. They run in a READ ONLY transaction that is rolled back; anything else is refused, naming the query.',
          ),
      })
      .optional()
      .describe('SQL queries that must each return true after migrating.'),
    jobTemplate: JobTemplateSpec.prefault({}),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        "self.onFailure != 'restore' || self.backup.enabled",
        'onFailure: restore needs backup.enabled: true',
        '.onFailure',
      ),
    ],
  })
  .describe('The desired migration run.');
export type DatabaseMigrationSpec = z.infer<typeof DatabaseMigrationSpec>;

/**
 * The finding categories that block a run: spec.safety.block, plus
 * `irreversible` when a failure reverts (a revert through a down() the check
 * could not prove is the data loss the user chose revert to avoid).
 */
export function blockingCategories(
  spec: Pick<DatabaseMigrationSpec, 'safety' | 'onFailure'>,
): FindingCategory[] {
  const block = new Set<FindingCategory>(spec.safety.block);
  if (spec.onFailure === 'revert') block.add('irreversible');
  return [...block];
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface DatabaseMigration {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: DatabaseMigrationSpec;
  status?: DatabaseMigrationStatus;
}

/** Validates a spec as it came from the API server; names the field at fault. */
export function validateSpec(
  raw: unknown,
): { ok: true; spec: DatabaseMigrationSpec } | { ok: false; field: string; message: string } {
  const parsed = DatabaseMigrationSpec.safeParse(raw);
  if (parsed.success) return { ok: true, spec: parsed.data };
  const issue = parsed.error.issues[0];
  const field = ['spec', ...(issue?.path ?? []).map(String)].join('.');
  return { ok: false, field, message: issue?.message ?? 'invalid' };
}
