// Deterministic Job identity: the same (resource, generation, attempt, step)
// always yields the same name, so a restarted operator finds and adopts the Job
// it created before instead of starting the step a second time.
import { createHash } from 'node:crypto';
import type { JobStep } from '../crds/job-result.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'database-migration-operator';
export const NAME_LABEL = 'dbmigrate.io/name';
export const GENERATION_LABEL = 'dbmigrate.io/generation';
export const ATTEMPT_LABEL = 'dbmigrate.io/attempt';
export const STEP_LABEL = 'dbmigrate.io/step';
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

export interface RunId {
  uid: string;
  name: string;
  generation: number;
  attempt: number;
}

function shortHash(input: string, length: number): string {
  return createHash('sha256').update(input).digest('hex').slice(0, length);
}

/** A label value is at most 63 characters; longer names keep a prefix and a hash. */
export function labelSafe(value: string): string {
  if (value.length <= 63) return value;
  return `${value.slice(0, 54).replace(/[-_.]+$/, '')}-${shortHash(value, 8)}`;
}

/**
 * At most 57 characters, leaving room for the Pod suffix the Job controller adds.
 * `variant` tells apart two Jobs of one step in one attempt (the inspection after
 * the migrate and the one after the revert); without it the name is unchanged.
 */
export function jobName(run: RunId, step: JobStep, variant?: string): string {
  const prefix = run.name.slice(0, 36).replace(/[-.]+$/, '');
  const hash = shortHash(
    `${run.uid}/${run.generation}/${run.attempt}/${step}${variant ? `/${variant}` : ''}`,
    10,
  );
  return `${prefix}-${step}-${hash}`;
}

export function jobLabels(run: RunId, step: JobStep): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    [NAME_LABEL]: labelSafe(run.name),
    [GENERATION_LABEL]: String(run.generation),
    [ATTEMPT_LABEL]: String(run.attempt),
    [STEP_LABEL]: step,
  };
}

/**
 * The run's identity as the database records it (the history rows' applied_by):
 * namespace/name@generation.attempt#uid. The resource's uid tells apart a resource
 * deleted and created again under the same name, whose first run is also @1.1.
 */
export function runAuthor(namespace: string, run: RunId): string {
  return `${namespace}/${run.name}@${run.generation}.${run.attempt}#${run.uid.slice(0, 8)}`;
}

/**
 * The backup's file name: deterministic per run, so a retried backup Job finds
 * its own file, and carrying the resource's uid, so a deleted and recreated
 * resource of the same name never collides with an older backup.
 */
export function backupId(namespace: string, run: RunId): string {
  return `${namespace}-${run.name}-${run.uid.slice(0, 8)}-g${run.generation}-a${run.attempt}`;
}
