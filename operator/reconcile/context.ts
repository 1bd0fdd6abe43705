// What every row of the transition table reads (the run, its frozen spec, what
// was observed) and the types the reconciler hands to the edge (controller.ts).
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type {
  DatabaseMigration,
  DatabaseMigrationSpec,
  DatabaseMigrationStatus,
  Phase,
} from '../../crds/database-migration.js';
import type { JobResult, JobStep, MigrateProgress } from '../../crds/job-result.js';
import { setCondition } from '../conditions.js';
import type { ConfigMapSeen } from '../frozen-sources.js';
import type { JobBuildConfig, StepParams } from '../job-builder.js';
import { jobName, type RunId } from '../job-names.js';
import { progressMessage } from '../migrate-progress.js';
import { isTerminal } from '../phases.js';

export const HISTORY_LIMIT = 10;
export const QUEUED_RECHECK_MS = 10_000;
export const WORKLOADS_RECHECK_MS = 2_000;
/** While the migrate Job runs, its progress is read this often (the status is written only when it changes). */
export const PROGRESS_POLL_MS = 5_000;

/**
 * What the reconciler asks the edge to do. Every intent is written to the
 * status before it is acted on, so a crash or a 409 between the two resumes
 * instead of repeating.
 */
export type Action =
  /** Start step `step` of the frozen plan (status.run): the edge builds the Job from it. */
  | { kind: 'startStep'; step: JobStep; run: RunId; params: StepParams }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string }
  /** Record each workload's replicas in status.scaledDown (never over an earlier record), then scale to 0. */
  | { kind: 'scaleDown'; workloads: { kind: 'Deployment' | 'StatefulSet'; name: string }[] }
  /** Scale back to the recorded replicas, then drop the record. */
  | { kind: 'scaleUp'; workloads: { kind: string; name: string; replicas: number }[] }
  /** Copy the full result of a finished check or migrate Job into the plan ConfigMap (for people; best-effort). */
  | { kind: 'publishResult'; step: 'check' | 'migrate'; job: string; run: RunId; result?: JobResult };

export type RunResult = 'succeeded' | 'failed' | 'rolled_back' | 'restored' | 'blocked';

export interface ReconcileInput {
  dm: DatabaseMigration;
  jobs: readonly V1Job[];
  pods: readonly V1Pod[];
  now: Date;
  /** Key (namespace/name) of another resource that holds this target database, if any. */
  targetHolder?: string;
  /** Key of another resource whose run holds the same database by its identity (status.databaseIdentity). */
  databaseHolder?: string;
  config: JobBuildConfig;
  /** Pods still running for the workloads recorded in status.scaledDown (a restore waits for 0). */
  workloadPodsRunning?: number;
  /** Field managers that scaled the workloads back up while the run waits for them (from managedFields). */
  workloadsScaledBackBy?: string[];
  /** The migrations ConfigMap as the edge read it now (when the spec names one). */
  migrationsConfigMap?: ConfigMapSeen;
  /** The migrate Job's last progress line, read by the edge from its running Pod's log (best effort). */
  migrateProgress?: MigrateProgress;
}

export interface ReconcileOutput {
  status: DatabaseMigrationStatus;
  actions: Action[];
  /** Whether this resource holds its target database after this reconcile. */
  holdsTarget: boolean;
  requeueAfterMs?: number;
  stepsFinished: { step: JobStep; ok: boolean; seconds: number }[];
  runFinished?: RunResult;
  pendingMigrations?: number;
  /** Our finalizer holds a resource that is deleted mid-run until the run reaches a safe point. */
  finalizer?: 'add' | 'remove';
}

/** One reconcile of one active run: the rows read it, the intents write `status` and `out`. */
export interface Ctx {
  dm: DatabaseMigration;
  /** The frozen spec of the run (status.run.spec), never the live one mid-run. */
  spec: DatabaseMigrationSpec;
  run: RunId;
  now: string;
  status: DatabaseMigrationStatus;
  out: ReconcileOutput;
  input: ReconcileInput;
}

export function stepCondition(ctx: Ctx, type: string, ok: boolean, reason: string, message: string): void {
  ctx.status.conditions = setCondition(
    ctx.status.conditions ?? [],
    { type, status: ok ? 'True' : 'False', reason, message },
    ctx.now,
    ctx.run.generation,
  );
}

/** Ready/Reconciling/Stalled as kstatus reads them. */
export function setPhaseConditions(ctx: Ctx, phase: Phase, message: string, reason: string = phase): void {
  const success = phase === 'Succeeded' || (phase === 'RolledBack' && Boolean(ctx.spec.rollback));
  const stalled = isTerminal(phase) && !success;
  const reconciling = !isTerminal(phase);
  const gen = ctx.run.generation;
  let c = ctx.status.conditions ?? [];
  c = setCondition(c, { type: 'Ready', status: success ? 'True' : 'False', reason, message }, ctx.now, gen);
  c = setCondition(
    c,
    { type: 'Reconciling', status: reconciling ? 'True' : 'False', reason, message },
    ctx.now,
    gen,
  );
  c = setCondition(c, { type: 'Stalled', status: stalled ? 'True' : 'False', reason, message }, ctx.now, gen);
  ctx.status.conditions = c;
}

/**
 * status.progress of the migrate step: the last observed value, kept as it is
 * after the step ends (then it says how far the step got). Only new values
 * change it, so the status is written once per migration, not once per poll.
 */
export function setProgress(ctx: Ctx, p: MigrateProgress, failed = false): void {
  const message =
    failed && p.current !== undefined
      ? `${p.applied}/${p.total} applied, failed: ${p.current}`
      : progressMessage(p);
  ctx.status.progress = {
    applied: p.applied,
    total: p.total,
    ...(p.current !== undefined ? { current: p.current } : {}),
    message,
  };
}

/** After a failed restore the database is in between: the application stays stopped for a human. */
export function keepsWorkloadsDown(status: DatabaseMigrationStatus): boolean {
  return status.phase === 'Failed' && status.lastError?.step === 'restore';
}

/** The name of `step`'s Job in this run; the verify Job of an inspection is named per inspected step. */
export function stepJobName(run: RunId, step: JobStep, status: DatabaseMigrationStatus): string {
  return jobName(run, step, step === 'verify' ? status.inspection?.after : undefined);
}

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
