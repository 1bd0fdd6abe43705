// Intents: what a row of the transition table decides, and how each one is
// carried out on the run's status and the actions handed to the controller.
// A row never writes; it returns intents. This file is the only place that
// turns "start step X", "scale down first", "inspect", "finish" into status
// fields, Events and startStep/scaleDown actions, in the order given.
import type { DatabaseMigrationStatus, Phase } from '../../crds/database-migration.js';
import type { JobStep, MigrateProgress } from '../../crds/job-result.js';
import type { StepParams } from '../job-builder.js';
import { jobName, runAuthor } from '../job-names.js';
import { STEP_OF_PHASE, type ActivePhase } from '../phases.js';
import {
  capitalize,
  HISTORY_LIMIT,
  keepsWorkloadsDown,
  setPhaseConditions,
  setProgress,
  stepCondition,
  stepJobName,
  WORKLOADS_RECHECK_MS,
  type Ctx,
  type RunResult,
} from './context.js';

export type Intent =
  /** Facts the row learned, written to the status (a key set to undefined is removed). */
  | { kind: 'record'; status: Partial<DatabaseMigrationStatus> }
  /** A step condition (Checked, BackedUp, MigrationsApplied, Verified, RolledBack, Restored). */
  | { kind: 'condition'; type: string; ok: boolean; reason: string; message: string }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string }
  | { kind: 'progress'; progress: MigrateProgress; failed?: boolean }
  /** Enter `phase` without a Job (Queued): the phase and Ready/Reconciling/Stalled. */
  | { kind: 'enter'; phase: Phase; message: string }
  /** The pending-migrations gauge. */
  | { kind: 'pendingMigrations'; count: number }
  | { kind: 'requeue'; afterMs: number }
  /** Start the step of `phase` from the frozen plan (the workloads stopped first where that step needs it). */
  | { kind: 'startStep'; phase: ActivePhase; message: string; params?: StepParams }
  /**
   * Record what a revert undoes, then start the revert step: `byRun` every
   * migration this run applied as the database records it (`names` then only
   * for people: a cut result may carry only the newest), else exactly `names`.
   */
  | { kind: 'revert'; message: string; names?: string[]; byRun?: { count: number } }
  /** Record replicas and scale the workloads to zero, then the restore step once their Pods are gone. */
  | { kind: 'restore'; message: string }
  /** Unknown is not failed: ask the database (a verify Job) what the step left. */
  | { kind: 'inspect'; after: JobStep; reason: string }
  /** The step's Job is not seen: create it (or adopt it: the name is deterministic), workloads first. */
  | { kind: 'ensureJob'; step: JobStep }
  /** End the run in `phase`. */
  | {
      kind: 'finish';
      phase: Phase;
      result: RunResult;
      reason: string;
      message: string;
      event: 'Normal' | 'Warning';
      /** Whether a Normal Event is written (a Warning always is). */
      emit?: boolean;
    };

export function carryOut(ctx: Ctx, intents: readonly Intent[]): void {
  for (const intent of intents) carryOutOne(ctx, intent);
}

function carryOutOne(ctx: Ctx, i: Intent): void {
  switch (i.kind) {
    case 'record':
      for (const [k, v] of Object.entries(i.status)) {
        const key = k as keyof DatabaseMigrationStatus;
        if (v === undefined) delete ctx.status[key];
        else (ctx.status as Record<string, unknown>)[key] = v;
      }
      return;
    case 'condition':
      return stepCondition(ctx, i.type, i.ok, i.reason, i.message);
    case 'event':
      ctx.out.actions.push({ kind: 'event', type: i.type, reason: i.reason, message: i.message });
      return;
    case 'progress':
      return setProgress(ctx, i.progress, i.failed);
    case 'enter':
      ctx.status.phase = i.phase;
      return setPhaseConditions(ctx, i.phase, i.message);
    case 'pendingMigrations':
      ctx.out.pendingMigrations = i.count;
      return;
    case 'requeue':
      ctx.out.requeueAfterMs = i.afterMs;
      return;
    case 'startStep':
      return startStep(ctx, i.phase, i.message, i.params);
    case 'revert':
      if (i.names)
        ctx.status.revert = {
          migrations: i.names,
          reason: i.message,
          ...(i.byRun
            ? { appliedBy: runAuthor(ctx.dm.metadata.namespace, ctx.run), count: i.byRun.count }
            : {}),
        };
      return startStep(ctx, 'RollingBack', i.message, paramsFor(ctx, 'RollingBack'));
    case 'restore':
      // Always asked again, even when they were stopped before the backup: someone
      // may have scaled them up since, and recording and scaling to 0 are idempotent.
      if (ctx.spec.restoreWorkloads.length) return stopWorkloads(ctx, 'Restoring', i.message);
      return startStep(ctx, 'Restoring', i.message, paramsFor(ctx, 'Restoring'));
    case 'inspect':
      return startInspection(ctx, i.after, i.reason);
    case 'ensureJob':
      return ensureJob(ctx, i.step);
    case 'finish':
      return finish(ctx, i);
  }
}

export function startStep(ctx: Ctx, phase: ActivePhase, message: string, params: StepParams = {}): void {
  if (refusedForChangedMigrations(ctx, phase)) return;
  const planned = ctx.status.plan?.pendingCount;
  if (phase === 'Migrating' && planned) setProgress(ctx, { applied: 0, total: planned });
  if (waitsForStoppedWorkloads(ctx, phase) && !workloadsStopped(ctx)) {
    stopWorkloads(ctx, phase, message);
    return;
  }
  const step = STEP_OF_PHASE[phase];
  const name = jobName(ctx.run, step);
  ctx.status.phase = phase;
  ctx.status.jobs = { ...(ctx.status.jobs ?? {}), [step]: name };
  // The ETA: now plus the plan's time in the check's rehearsal (pod start-up not counted).
  const rehearsed = ctx.status.plan?.rehearsal?.totalMs;
  if (phase === 'Migrating' && rehearsed !== undefined)
    ctx.status.expectedMigratedBy = new Date(Date.parse(ctx.now) + rehearsed).toISOString();
  delete ctx.status.workloadsStoppingSince;
  delete ctx.status.workloadsScaledBackBy;
  ctx.out.actions.push({
    kind: 'startStep',
    step,
    run: ctx.run,
    params: { ...paramsFor(ctx, phase), ...params },
  });
  ctx.out.actions.push({
    kind: 'event',
    type: 'Normal',
    reason: `${capitalize(step)}Started`,
    message: `${message}: Job ${name}`,
  });
  setPhaseConditions(ctx, phase, `${message} (Job ${name})`);
}

/**
 * The step's Job is not observed. Created before but not seen yet (cache lag),
 * or not created yet (the status was written first): creating it is safe, the
 * name is deterministic and AlreadyExists means adopt.
 */
function ensureJob(ctx: Ctx, step: JobStep): void {
  const phase = ctx.status.phase as ActivePhase;
  const inspects = step === 'verify' ? ctx.status.inspection?.after : undefined;
  const name = stepJobName(ctx.run, step, ctx.status);
  if (waitsForStoppedWorkloads(ctx, phase)) {
    // Scaling down is recorded and re-applied until every Pod of the app is gone:
    // a backup or restore under a running app would lose its writes (or fail on its locks).
    ctx.out.actions.push({ kind: 'scaleDown', workloads: ctx.spec.restoreWorkloads });
    if (!workloadsStopped(ctx)) {
      const since = ctx.status.workloadsStoppingSince ?? ctx.now;
      ctx.status.workloadsStoppingSince = since;
      const by = new Set([
        ...(ctx.status.workloadsScaledBackBy ?? []),
        ...(ctx.input.workloadsScaledBackBy ?? []),
      ]);
      if (by.size > 0) ctx.status.workloadsScaledBackBy = [...by].slice(0, 10);
      const waited = (Date.parse(ctx.now) - Date.parse(since)) / 1000;
      if (waited >= ctx.spec.stopWorkloadsTimeoutSeconds) return workloadsDidNotStop(ctx, phase);
      ctx.out.requeueAfterMs = WORKLOADS_RECHECK_MS;
      return;
    }
  }
  delete ctx.status.workloadsStoppingSince;
  delete ctx.status.workloadsScaledBackBy;
  // Only a Job never asked for is refused: one already asked for may exist unseen (cache lag).
  if (ctx.status.jobs?.[step] !== name && refusedForChangedMigrations(ctx, phase)) return;
  ctx.status.jobs = { ...(ctx.status.jobs ?? {}), [step]: name };
  ctx.out.actions.push({
    kind: 'startStep',
    step,
    run: ctx.run,
    params: inspects ? { inspects } : paramsFor(ctx, phase),
  });
}

function paramsFor(ctx: Ctx, phase: ActivePhase): StepParams {
  if (phase === 'Migrating') {
    const checked = ctx.status.run?.checkedPlan;
    return checked ? { checkedPlan: checked } : {};
  }
  if (phase === 'Restoring') return ctx.status.backup?.path ? { backupPath: ctx.status.backup.path } : {};
  if (phase === 'RollingBack') {
    if (ctx.status.revert?.appliedBy) return { revertAppliedBy: ctx.status.revert.appliedBy };
    if (ctx.status.revert) return { revertMigrations: ctx.status.revert.migrations };
    const rb = ctx.spec.rollback;
    if (rb)
      return {
        ...(rb.steps !== undefined ? { revertSteps: rb.steps } : {}),
        ...(rb.toMigration ? { revertTo: rb.toMigration } : {}),
        ...(rb.migrations ? { revertMigrations: rb.migrations } : {}),
      };
    return {};
  }
  return {};
}

/**
 * Whether the step of `phase` may start only with restoreWorkloads at zero: the
 * restore always; with stopWorkloads beforeBackup also the backup and every
 * later mutating step, so no write lands after the backup a restore returns to.
 */
export function waitsForStoppedWorkloads(ctx: Ctx, phase: ActivePhase): boolean {
  if (ctx.status.inspection || ctx.spec.restoreWorkloads.length === 0) return false;
  if (phase === 'Restoring') return true;
  return ctx.spec.stopWorkloads === 'beforeBackup' && phase !== 'Checking';
}

/** Every workload's replicas are recorded and none of their Pods is left (terminating ones still write). */
function workloadsStopped(ctx: Ctx): boolean {
  const recorded = ctx.status.scaledDown ?? [];
  const all = ctx.spec.restoreWorkloads.every((w) =>
    recorded.some((r) => r.kind === w.kind && r.name === w.name),
  );
  return all && (ctx.input.workloadPodsRunning ?? 0) === 0;
}

/** Enters `phase` without its Job: the scale-down intent first (replicas recorded by the edge before scaling). */
function stopWorkloads(ctx: Ctx, phase: ActivePhase, message: string): void {
  ctx.status.phase = phase;
  ctx.status.workloadsStoppingSince ??= ctx.now;
  ctx.status.jobs = { ...(ctx.status.jobs ?? {}) };
  ctx.out.actions.push({ kind: 'scaleDown', workloads: ctx.spec.restoreWorkloads });
  ctx.out.requeueAfterMs = WORKLOADS_RECHECK_MS;
  setPhaseConditions(ctx, phase, `${message}: scaling the workloads to zero first`);
  ctx.out.actions.push({
    kind: 'event',
    type: phase === 'Restoring' ? 'Warning' : 'Normal',
    reason: 'ScalingDown',
    message: `${message}: scaling ${ctx.spec.restoreWorkloads.map((w) => `${w.kind}/${w.name}`).join(', ')} to zero`,
  });
}

/**
 * Bounded wait: restoreWorkloads still have Pods stopWorkloadsTimeoutSeconds
 * after they were scaled to zero (something scales them back). The run ends
 * Failed and Stalled, naming the workloads and who scaled them back; a restore
 * that never started leaves the database with the failed release for a human.
 */
function workloadsDidNotStop(ctx: Ctx, phase: ActivePhase): void {
  const step = STEP_OF_PHASE[phase];
  const names = ctx.spec.restoreWorkloads.map((w) => `${w.kind}/${w.name}`).join(', ');
  const by = ctx.status.workloadsScaledBackBy?.length
    ? `; scaled back by ${ctx.status.workloadsScaledBackBy.join(', ')}`
    : '';
  const pods = ctx.input.workloadPodsRunning ?? 0;
  const why = `${names} still had ${pods} Pod(s) ${ctx.spec.stopWorkloadsTimeoutSeconds} s after being scaled to zero${by}`;
  const after =
    phase === 'Restoring'
      ? 'The restore did not start: the database still holds what the failed migration left. Stop what scales them back, then retry (annotation dbmigrate.io/retry)'
      : `The ${step} did not start and the database was not changed by it. Stop what scales them back, then retry (annotation dbmigrate.io/retry)`;
  ctx.status.lastError = { step, message: why };
  finish(ctx, {
    phase: 'Failed',
    result: 'failed',
    reason: 'WorkloadsDidNotStop',
    message: `${why}. ${after}`,
    event: 'Warning',
  });
}

/** Why the run's migrations ConfigMap is no longer the one it started with; undefined when it is (or unknown). */
function changedMigrations(ctx: Ctx): string | undefined {
  const ref = ctx.spec.migrations.configMapRef;
  const seen = ctx.input.migrationsConfigMap;
  if (!ref || !seen) return undefined;
  if (seen.missing) return `ConfigMap ${ref.name} (spec.migrations.configMapRef) does not exist`;
  const frozen = ctx.status.run?.migrationsConfigMap;
  if (!frozen) return undefined;
  if (frozen.uid !== seen.uid) return `ConfigMap ${ref.name} was replaced during the run`;
  if (frozen.sha256 !== seen.sha256)
    return `ConfigMap ${ref.name} changed during the run (resourceVersion ${frozen.resourceVersion} at its start, ${seen.resourceVersion} now)`;
  return undefined;
}

/**
 * A step that loads the migrations never starts with other migrations than the
 * run checked: the run ends Stalled, naming the ConfigMap. True when refused.
 */
function refusedForChangedMigrations(ctx: Ctx, phase: ActivePhase): boolean {
  const step = STEP_OF_PHASE[phase];
  if (step === 'backup' || step === 'restore' || ctx.status.inspection) return false;
  const why = changedMigrations(ctx);
  if (!why) return false;
  const untouched = phase === 'Checking' || phase === 'Migrating';
  const advice = untouched
    ? 'The database was not changed; retry (annotation dbmigrate.io/retry) to run with the ConfigMap as it is now'
    : 'The database may hold migrations of this run: needs a human';
  ctx.status.lastError = { step, message: why };
  finish(ctx, {
    phase: 'Failed',
    result: 'failed',
    reason: 'MigrationsChanged',
    message: `${why}: the ${step} Job was not started, so this run never mixes two sets of migrations. ${advice}`,
    event: 'Warning',
  });
  return true;
}

function startInspection(ctx: Ctx, after: JobStep, reason: string): void {
  ctx.status.inspection = { after, reason, startedAt: ctx.now };
  // One verify Job per inspected step: a later inspection in the run never adopts an earlier one's answer.
  const name = jobName(ctx.run, 'verify', after);
  ctx.status.jobs = { ...(ctx.status.jobs ?? {}), verify: name };
  ctx.out.actions.push({ kind: 'startStep', step: 'verify', run: ctx.run, params: { inspects: after } });
  const message = `The ${after} Job ended without a readable result (${reason}); inspecting the database (Job ${name}) before deciding`;
  ctx.out.actions.push({ kind: 'event', type: 'Warning', reason: 'ResultUnknown', message });
  setPhaseConditions(ctx, ctx.status.phase ?? 'Migrating', message);
}

export function finish(ctx: Ctx, f: Omit<Extract<Intent, { kind: 'finish' }>, 'kind'>): void {
  const { status } = ctx;
  status.phase = f.phase;
  status.completedAt = ctx.now;
  delete status.inspection;
  delete status.workloadsStoppingSince;
  delete status.workloadsScaledBackBy;
  ctx.out.runFinished = f.result;
  ctx.out.holdsTarget = false;
  // Whatever the end, the workloads the run stopped go back (the record of
  // replicas stays until the controller has scaled them), but not after a failed restore.
  if (status.scaledDown?.length && !keepsWorkloadsDown(status))
    ctx.out.actions.push({ kind: 'scaleUp', workloads: status.scaledDown });
  if (f.emit !== false || f.event === 'Warning')
    ctx.out.actions.push({ kind: 'event', type: f.event, reason: f.reason, message: f.message });
  setPhaseConditions(ctx, f.phase, f.message, f.reason);
  const entry = {
    generation: ctx.run.generation,
    attempt: ctx.run.attempt,
    phase: f.phase,
    ...(status.startedAt ? { startedAt: status.startedAt } : {}),
    completedAt: ctx.now,
    message: f.message.slice(0, 300),
  };
  status.history = [entry, ...(status.history ?? [])].slice(0, HISTORY_LIMIT);
}
