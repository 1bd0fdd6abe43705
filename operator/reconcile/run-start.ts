// How a run begins and what it keeps: the status of a new run (records that
// outlive runs carried over), the frozen spec, a superseded run, an invalid
// spec, and the rows that decide the first step (queued, or start).
import { createHash } from 'node:crypto';
import {
  DatabaseMigrationSpec,
  scrubTarget,
  type DatabaseMigration,
  type DatabaseMigrationStatus,
} from '../../crds/database-migration.js';
import { setCondition } from '../conditions.js';
import type { RunId } from '../job-names.js';
import { HISTORY_LIMIT, QUEUED_RECHECK_MS, type ReconcileOutput } from './context.js';
import type { Intent } from './intents.js';
import { finishIntent, type Row } from './row.js';

/** The spec the current run froze when it started; undefined for a status written before runs were frozen. */
export function frozenSpec(status: DatabaseMigrationStatus | undefined): DatabaseMigrationSpec | undefined {
  if (!status?.run) return undefined;
  const parsed = DatabaseMigrationSpec.safeParse(status.run.spec);
  return parsed.success ? parsed.data : undefined;
}

/** Identity of spec.rollback, so the same request is carried out once. */
export function rollbackHash(rollback: DatabaseMigrationSpec['rollback']): string {
  return createHash('sha256')
    .update(JSON.stringify(rollback ?? null))
    .digest('hex')
    .slice(0, 16);
}

/** The Queued message: the same whichever run holds the database, so a new holder rewrites no queued status. */
export function queuedMessage(target: string): string {
  return `Waiting for another run on ${target} to finish (one run at a time per database)`;
}

/** Another run holds the database: wait in Queued (the Event, once, names the holder). */
export const queued: Row = {
  name: 'queued',
  does: 'wait for the run holding the database; checked again every 10 s',
  next: ['Queued'],
  decide(ctx) {
    const target = scrubTarget(ctx.status.target ?? '');
    // The status names no holder: every queued resource's status would otherwise be
    // rewritten each time the run holding the database changes, work that grows with
    // the square of the queue. The Event, written once on entering the queue, names it.
    const event =
      ctx.status.phase !== 'Queued'
        ? [
            {
              kind: 'event',
              type: 'Normal',
              reason: 'Queued',
              message: `Waiting for ${ctx.input.targetHolder}, which is running migrations on ${target}`,
            } as const,
          ]
        : [];
    return [
      ...event,
      { kind: 'enter', phase: 'Queued', message: queuedMessage(target) },
      { kind: 'requeue', afterMs: QUEUED_RECHECK_MS },
    ];
  },
};

/** The database is free: the run (its plan already frozen in status.run) takes its first step. */
export const startRun: Row = {
  name: 'startRun',
  does: 'check the pending migrations; for spec.rollback back up then revert (once per request)',
  next: ['Checking', 'BackingUp', 'RollingBack', 'RolledBack'],
  decide(ctx) {
    const rb = ctx.spec.rollback;
    const done = ctx.status.rollbackDone;
    if (rb && done?.hash === rollbackHash(rb))
      // An unrelated edit must not revert again what this request already reverted.
      return [
        finishIntent(
          'RolledBack',
          'rolled_back',
          'RollbackAlreadyDone',
          `spec.rollback was carried out in generation ${done.generation}; nothing reverted again (remove spec.rollback to migrate forward)`,
          'Normal',
        ),
      ];
    // A run without spec.rollback ends the last request: the same request later is a new one.
    const forget: Intent[] = !rb && done ? [{ kind: 'record', status: { rollbackDone: undefined } }] : [];
    if (rb)
      return [
        ctx.spec.backup.enabled
          ? { kind: 'startStep', phase: 'BackingUp', message: 'Backing up before the requested rollback' }
          : { kind: 'revert', message: 'Reverting as requested by spec.rollback' },
      ];
    return [...forget, { kind: 'startStep', phase: 'Checking', message: 'Checking the pending migrations' }];
  },
};

/**
 * The way back a retry resumes: a run that failed while restoring or while
 * reverting what it applied (not a requested spec.rollback) left the database
 * in between. A retry takes that way back again (attempt + 1) with the same
 * frozen spec and the same backup or revert record; it never starts a new run
 * (a check, a backup of the half-migrated database, a migrate) over it.
 */
export function resumableWayBack(status: DatabaseMigrationStatus): 'Restoring' | 'RollingBack' | undefined {
  if (status.phase !== 'Failed' || !status.run) return undefined;
  const spec = frozenSpec(status);
  if (!spec || spec.rollback) return undefined;
  if (status.lastError?.step === 'restore' && status.backup?.path) return 'Restoring';
  if (status.lastError?.step === 'revert' && status.revert?.appliedBy) return 'RollingBack';
  return undefined;
}

export const resumeWayBack: Row = {
  name: 'resumeWayBack',
  does: 'a retry after a failed restore or revert takes that way back again (attempt + 1), same backup, same record',
  next: ['Restoring', 'RollingBack', 'Failed'],
  decide(ctx) {
    const restoring = ctx.status.lastError?.step === 'restore';
    const what = restoring
      ? `the restore of ${ctx.status.backup?.path ?? 'the backup'}`
      : `the revert of what ${ctx.status.revert?.appliedBy ?? 'the run'} applied`;
    const message = `Retry: resuming ${what} (attempt ${ctx.run.attempt}); no new check, backup or migrate over the database in between`;
    return [
      { kind: 'event', type: 'Normal', reason: 'WayBackResumed', message },
      restoring ? { kind: 'restore', message } : { kind: 'revert', message },
    ];
  },
};

/** Ends a run that a newer generation replaced before it touched the schema. */
export function supersede(prev: DatabaseMigrationStatus, run: RunId, now: string): DatabaseMigrationStatus {
  const entry = {
    generation: run.generation,
    attempt: run.attempt,
    phase: 'Failed' as const,
    ...(prev.startedAt ? { startedAt: prev.startedAt } : {}),
    completedAt: now,
    message: `Superseded by a newer generation during ${prev.phase}; the schema was not changed`,
  };
  return { ...prev, phase: 'Failed', history: [entry, ...(prev.history ?? [])].slice(0, HISTORY_LIMIT) };
}

export function newRunStatus(
  prev: DatabaseMigrationStatus,
  run: RunId,
  target: string,
  retryToken: string | undefined,
): DatabaseMigrationStatus {
  const keep = (prev.conditions ?? []).filter((c) => ['Ready', 'Reconciling', 'Stalled'].includes(c.type));
  return {
    observedGeneration: run.generation,
    phase: 'Pending',
    conditions: keep,
    target,
    attempt: run.attempt,
    ...(retryToken !== undefined ? { retryToken } : {}),
    jobs: {},
    ...(prev.history ? { history: prev.history } : {}),
    // Records that outlive a run: workloads still scaled down, the last rollback done.
    ...(prev.scaledDown?.length ? { scaledDown: prev.scaledDown } : {}),
    ...(prev.rollbackDone ? { rollbackDone: prev.rollbackDone } : {}),
  };
}

export function invalidSpec(
  dm: DatabaseMigration,
  out: ReconcileOutput,
  now: string,
  field: string,
  message: string,
): ReconcileOutput {
  const status = out.status;
  const text = `Invalid ${field}: ${message}`;
  const already =
    status.phase === 'Failed' && status.lastError?.step === 'validate' && status.lastError.message === text;
  const gen = dm.metadata.generation;
  status.observedGeneration = gen;
  status.phase = 'Failed';
  status.lastError = { step: 'validate', message: text };
  let conditions = status.conditions ?? [];
  for (const [type, value] of [
    ['Ready', 'False'],
    ['Reconciling', 'False'],
    ['Stalled', 'True'],
  ] as const)
    conditions = setCondition(
      conditions,
      { type, status: value, reason: 'InvalidSpec', message: text },
      now,
      gen,
    );
  status.conditions = conditions;
  if (!already) out.actions.push({ kind: 'event', type: 'Warning', reason: 'InvalidSpec', message: text });
  out.holdsTarget = false;
  return out;
}
