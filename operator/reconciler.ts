// The reconciler: a pure function from (resource, observed Jobs and Pods,
// whether the target database is free) to (actions, new status). All I/O
// happens at the edges (controller.ts), so every transition is unit-testable.
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import {
  blockingCategories,
  DatabaseMigrationSpec,
  RETRY_ANNOTATION,
  targetKey,
  validateSpec,
  type DatabaseMigration,
  type DatabaseMigrationStatus,
  type Phase,
} from '../crds/database-migration.js';
import type { FindingCategory, JobResult, JobStep, MigrateProgress } from '../crds/job-result.js';
import { setCondition } from './conditions.js';
import { pinImage, resolvedDigest, type ConfigMapSeen } from './frozen-sources.js';
import { progressMessage } from './migrate-progress.js';
import { planConfigMapName } from './plan-configmap.js';
import type { JobBuildConfig, StepParams } from './job-builder.js';
import { jobName, type RunId } from './job-names.js';
import { observeStep } from './job-observer.js';
import {
  isActive,
  isTerminal,
  mustFinishBeforeNewGeneration,
  STEP_OF_PHASE,
  type ActivePhase,
} from './phases.js';

export const HISTORY_LIMIT = 10;
export const QUEUED_RECHECK_MS = 10_000;
export const WORKLOADS_RECHECK_MS = 2_000;
/** While the migrate Job runs, its progress is read this often (the status is written only when it changes). */
export const PROGRESS_POLL_MS = 5_000;

/**
 * What the reconciler decides; the controller carries it out. Every intent is
 * written to the status before it is acted on, so a crash or a 409 between the
 * two resumes instead of repeating.
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
  config: JobBuildConfig;
  /** Pods still running for the workloads recorded in status.scaledDown (a restore waits for 0). */
  workloadPodsRunning?: number;
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

export const FINALIZER = 'dbmigrate.io/run-guard';

interface Ctx {
  dm: DatabaseMigration;
  /** The frozen spec of the run (status.run.spec), never the live one mid-run. */
  spec: DatabaseMigrationSpec;
  run: RunId;
  now: string;
  status: DatabaseMigrationStatus;
  out: ReconcileOutput;
  input: ReconcileInput;
}

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

/** The step whose Job the active phase is waiting on (the inspection's verify Job when one runs). */
export function activeStep(phase: ActivePhase, status: DatabaseMigrationStatus): JobStep {
  return status.inspection ? 'verify' : STEP_OF_PHASE[phase];
}

export function reconcile(input: ReconcileInput): ReconcileOutput {
  const prev: DatabaseMigrationStatus = input.dm.status ?? {};
  const out: ReconcileOutput = { status: { ...prev }, actions: [], holdsTarget: false, stepsFinished: [] };
  if (input.dm.metadata.deletionTimestamp) return reconcileDeleted(input, out);
  const result = reconcileLive(input, out);
  // The finalizer is on before the first Job of a run exists, and off once no run is active.
  const active = isActive(result.status.phase) || Boolean(result.status.scaledDown?.length);
  result.finalizer = active ? 'add' : 'remove';
  return result;
}

/**
 * A resource deleted mid-run: a migrate, revert or restore goes on to its end
 * (its Jobs live while our finalizer holds the resource), and scaled-down
 * workloads go back up; a check or backup simply stops (nothing changed yet).
 */
function reconcileDeleted(input: ReconcileInput, out: ReconcileOutput): ReconcileOutput {
  const { dm } = input;
  const phase = out.status.phase;
  if (mustFinishBeforeNewGeneration(phase)) {
    const live = reconcileLive(
      { ...input, dm: { ...dm, metadata: { ...dm.metadata, deletionTimestamp: undefined } } },
      out,
    );
    if (isActive(live.status.phase) || live.status.scaledDown?.length) return { ...live, finalizer: 'add' };
    return { ...live, finalizer: 'remove' };
  }
  if (out.status.scaledDown?.length) {
    out.actions.push({ kind: 'scaleUp', workloads: out.status.scaledDown });
    out.finalizer = 'add';
    return out;
  }
  out.finalizer = 'remove';
  return out;
}

function reconcileLive(input: ReconcileInput, out: ReconcileOutput): ReconcileOutput {
  const { dm, now } = input;
  const nowIso = now.toISOString();
  const prev: DatabaseMigrationStatus = dm.status ?? {};

  const generation = dm.metadata.generation;
  const retryToken = dm.metadata.annotations?.[RETRY_ANNOTATION];
  const prevGen = prev.observedGeneration ?? -1;
  const phase = prev.phase;

  // An active run continues to its end; a new generation waits (a migration is
  // never cancelled halfway). A run that has not touched the schema yet (check,
  // backup) gives way to the new generation once its running Job has finished.
  if (isActive(phase) && prevGen >= 1) {
    const run: RunId = {
      uid: dm.metadata.uid,
      name: dm.metadata.name,
      generation: prevGen,
      attempt: prev.attempt ?? 1,
    };
    const superseded = generation !== prevGen && !mustFinishBeforeNewGeneration(phase);
    if (superseded) {
      const obs = observeStep(jobName(run, activeStep(phase, prev)), input.jobs, input.pods);
      if (obs.state === 'running') {
        out.holdsTarget = true;
        return out;
      }
      out.status = supersede(prev, run, nowIso);
    } else {
      // The run goes on with the spec it froze: an edit of the live spec (even one
      // only our validation rejects) neither changes nor abandons it.
      const frozen = frozenSpec(prev);
      const live = frozen ? undefined : validateSpec(dm.spec);
      if (live && !live.ok) return invalidSpec(dm, out, nowIso, live.field, live.message);
      const spec = frozen ?? (live as { ok: true; spec: DatabaseMigrationSpec }).spec;
      const ctx: Ctx = { dm, spec, run, now: nowIso, status: out.status, out, input };
      out.holdsTarget = true;
      pinMigrationsImage(ctx);
      advanceActive(ctx, phase);
      return out;
    }
  }

  // Workloads the run scaled down go back up once it has ended (the record
  // stays until the controller has scaled them).
  if (
    isTerminal(out.status.phase) &&
    out.status.scaledDown?.length &&
    !keepsWorkloadsDown(out.status) &&
    !(out.status.observedGeneration !== generation || retryToken !== out.status.retryToken)
  ) {
    out.actions.push({ kind: 'scaleUp', workloads: out.status.scaledDown });
  }

  const current = out.status;
  const sameRun = (current.observedGeneration ?? -1) === generation;
  const retryRequested = retryToken !== undefined && retryToken !== current.retryToken;
  if (sameRun && isTerminal(current.phase) && !retryRequested) {
    out.holdsTarget = false;
    return out;
  }

  const spec = validateSpec(dm.spec);
  if (!spec.ok) return invalidSpec(dm, out, nowIso, spec.field, spec.message);

  const attempt = sameRun
    ? isTerminal(current.phase)
      ? (current.attempt ?? 1) + 1
      : (current.attempt ?? 1)
    : 1;
  const run: RunId = { uid: dm.metadata.uid, name: dm.metadata.name, generation, attempt };
  const target = targetKey(spec.spec.database, dm.metadata.namespace);
  const fresh = !(sameRun && current.phase === 'Queued' && current.attempt === attempt);
  const status: DatabaseMigrationStatus = fresh
    ? newRunStatus(current, run, target, retryToken)
    : { ...current };
  out.status = status;
  const ctx: Ctx = { dm, spec: spec.spec, run, now: nowIso, status, out, input };

  if (input.targetHolder) {
    // The status names no holder: every queued resource's status would otherwise be
    // rewritten each time the run holding the database changes, work that grows with
    // the square of the queue. The Event, written once on entering the queue, names it.
    if (status.phase !== 'Queued') {
      out.actions.push({
        kind: 'event',
        type: 'Normal',
        reason: 'Queued',
        message: `Waiting for ${input.targetHolder}, which is running migrations on ${target}`,
      });
    }
    status.phase = 'Queued';
    setPhaseConditions(ctx, 'Queued', queuedMessage(target));
    out.requeueAfterMs = QUEUED_RECHECK_MS;
    return out;
  }

  out.holdsTarget = true;
  status.startedAt = nowIso;
  // The frozen plan: every Job of this run is built from this copy of the spec
  // (the API server fills only defaults of fields that are present, zod the rest).
  const cmRef = spec.spec.migrations.configMapRef;
  const cm = input.migrationsConfigMap;
  status.run = {
    generation,
    attempt,
    startedAt: nowIso,
    spec: spec.spec,
    ...(cmRef && cm && !cm.missing
      ? {
          migrationsConfigMap: {
            name: cmRef.name,
            uid: cm.uid,
            resourceVersion: cm.resourceVersion,
            sha256: cm.sha256,
          },
        }
      : {}),
  };
  const rb = spec.spec.rollback;
  if (rb && current.rollbackDone?.hash === rollbackHash(rb)) {
    // An unrelated edit must not revert again what this request already reverted.
    finish(
      ctx,
      'RolledBack',
      'rolled_back',
      'RollbackAlreadyDone',
      `spec.rollback was carried out in generation ${current.rollbackDone.generation}; nothing reverted again (remove spec.rollback to migrate forward)`,
      'Normal',
    );
    return out;
  }
  if (spec.spec.rollback) {
    if (spec.spec.backup.enabled) startStep(ctx, 'BackingUp', 'Backing up before the requested rollback');
    else startRevert(ctx, 'Reverting as requested by spec.rollback');
  } else {
    startStep(ctx, 'Checking', 'Checking the pending migrations');
  }
  return out;
}

/** Ends a run that a newer generation replaced before it touched the schema. */
function supersede(prev: DatabaseMigrationStatus, run: RunId, now: string): DatabaseMigrationStatus {
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

function newRunStatus(
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

function invalidSpec(
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
  status.observedGeneration = dm.metadata.generation;
  status.phase = 'Failed';
  status.lastError = { step: 'validate', message: text };
  let conditions = status.conditions ?? [];
  const gen = dm.metadata.generation;
  conditions = setCondition(
    conditions,
    { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: text },
    now,
    gen,
  );
  conditions = setCondition(
    conditions,
    { type: 'Reconciling', status: 'False', reason: 'InvalidSpec', message: text },
    now,
    gen,
  );
  conditions = setCondition(
    conditions,
    { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message: text },
    now,
    gen,
  );
  status.conditions = conditions;
  if (!already) out.actions.push({ kind: 'event', type: 'Warning', reason: 'InvalidSpec', message: text });
  out.holdsTarget = false;
  return out;
}

function startStep(ctx: Ctx, phase: ActivePhase, message: string, params: StepParams = {}): void {
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

/** Reverts exactly the named migrations (newest first), recorded before the Job exists. */
function startRevert(ctx: Ctx, message: string, names?: string[]): void {
  if (names) ctx.status.revert = { migrations: names, reason: message };
  startStep(ctx, 'RollingBack', message, paramsFor(ctx, 'RollingBack'));
}

/** Restore: scale the workloads down (recorded first), then the Job once their Pods are gone. */
function startRestore(ctx: Ctx, message: string): void {
  if (ctx.spec.restoreWorkloads.length) {
    // Always asked again, even when they were stopped before the backup: someone
    // may have scaled them up since, and recording and scaling to 0 are idempotent.
    stopWorkloads(ctx, 'Restoring', message);
    return;
  }
  startStep(ctx, 'Restoring', message, paramsFor(ctx, 'Restoring'));
}

/**
 * Whether the step of `phase` may start only with restoreWorkloads at zero: the
 * restore always; with stopWorkloads beforeBackup also the backup and every
 * later mutating step, so no write lands after the backup a restore returns to.
 */
function waitsForStoppedWorkloads(ctx: Ctx, phase: ActivePhase): boolean {
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

/** Records the migrations image digest once a Pod of the run has resolved it (the status is written before the next Job). */
function pinMigrationsImage(ctx: Ctx): void {
  const image = ctx.spec.migrations.image;
  const run = ctx.status.run;
  if (!image || !run || run.migrationsImageDigest) return;
  const digest = resolvedDigest(ctx.input.pods, new Set(Object.values(ctx.status.jobs ?? {})));
  if (!digest) return;
  const pinned = pinImage(image, digest);
  ctx.status.run = { ...run, migrationsImageDigest: pinned };
  ctx.out.actions.push({
    kind: 'event',
    type: 'Normal',
    reason: 'MigrationsImagePinned',
    message: `${image} resolved to ${pinned}: every later Job of this run uses it`,
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
  finish(
    ctx,
    'Failed',
    'failed',
    'MigrationsChanged',
    `${why}: the ${step} Job was not started, so this run never mixes two sets of migrations. ${advice}`,
    'Warning',
  );
  return true;
}

/** After a failed restore the database is in between: the application stays stopped for a human. */
function keepsWorkloadsDown(status: DatabaseMigrationStatus): boolean {
  return status.phase === 'Failed' && status.lastError?.step === 'restore';
}

/** Looks at the Job of the active phase and moves the run on when it has finished. */
function advanceActive(ctx: Ctx, phase: ActivePhase): void {
  const { input } = ctx;
  const step = activeStep(phase, ctx.status);
  const name = jobName(ctx.run, step);
  const obs = observeStep(name, input.jobs, input.pods);
  if (obs.state === 'absent') {
    if (waitsForStoppedWorkloads(ctx, phase)) {
      // Scaling down is recorded and re-applied until every Pod of the app is gone:
      // a backup or restore under a running app would lose its writes (or fail on its locks).
      ctx.out.actions.push({ kind: 'scaleDown', workloads: ctx.spec.restoreWorkloads });
      if (!workloadsStopped(ctx)) {
        ctx.out.requeueAfterMs = WORKLOADS_RECHECK_MS;
        return;
      }
    }
    // Only a Job never asked for is refused: one already asked for may exist unseen (cache lag).
    if (ctx.status.jobs?.[step] !== name && refusedForChangedMigrations(ctx, phase)) return;
    // Created before but not seen yet (cache lag), or not created yet (the status
    // was written first): creating it is safe, the name is deterministic and
    // AlreadyExists means adopt.
    ctx.status.jobs = { ...(ctx.status.jobs ?? {}), [step]: name };
    ctx.out.actions.push({ kind: 'startStep', step, run: ctx.run, params: paramsFor(ctx, phase) });
    return;
  }
  if (obs.state === 'running') {
    if (step === 'migrate') {
      // Polled while it runs: the log holds the progress, and a log line is no watch event.
      ctx.out.requeueAfterMs = PROGRESS_POLL_MS;
      if (input.migrateProgress) setProgress(ctx, input.migrateProgress);
    }
    return;
  }

  const seconds = stepSeconds(obs.job, obs.result);
  ctx.out.stepsFinished.push({ step, ok: obs.state === 'succeeded', seconds });
  if (!ctx.status.inspection && (step === 'check' || step === 'migrate'))
    ctx.out.actions.push({
      kind: 'publishResult',
      step,
      job: name,
      run: ctx.run,
      ...(obs.result ? { result: obs.result } : {}),
    });
  if (ctx.status.inspection) {
    onInspected(ctx, phase, obs.result);
    return;
  }
  if (obs.state === 'succeeded') onStepSucceeded(ctx, phase, obs.result);
  else if (obs.unreadable && (step === 'migrate' || step === 'revert' || step === 'restore')) {
    startInspection(ctx, phase, step, obs.message);
  } else onStepFailed(ctx, phase, obs.message, obs.result);
}

/**
 * Unknown is not failed: a mutating step ended without a result we can read
 * (Pod deleted or evicted, container killed). Ask the database what it holds
 * (a verify Job reads the migrations and history tables) before choosing a way back.
 */
function startInspection(ctx: Ctx, phase: ActivePhase, after: JobStep, reason: string): void {
  ctx.status.inspection = { after, reason, startedAt: ctx.now };
  const name = jobName(ctx.run, 'verify');
  ctx.status.jobs = { ...(ctx.status.jobs ?? {}), verify: name };
  ctx.out.actions.push({ kind: 'startStep', step: 'verify', run: ctx.run, params: {} });
  const message = `The ${after} Job ended without a readable result (${reason}); inspecting the database (Job ${name}) before deciding`;
  ctx.out.actions.push({ kind: 'event', type: 'Warning', reason: 'ResultUnknown', message });
  setPhaseConditions(ctx, phase, message);
}

function onInspected(ctx: Ctx, phase: ActivePhase, result: JobResult | undefined): void {
  const { status } = ctx;
  const after = status.inspection?.after ?? STEP_OF_PHASE[phase];
  // Answered: whatever comes next (a revert, a restore, the end) waits on its own Job.
  delete status.inspection;
  const pendingNow = result?.verify?.pending;
  if (!pendingNow) {
    const why = result?.error?.message ?? 'the inspection Job wrote no result either';
    status.lastError = { step: after, message: `outcome unknown: ${why}` };
    finish(
      ctx,
      'Failed',
      'failed',
      'OutcomeUnknown',
      `The ${after} step's outcome is unknown and the database could not be inspected (${why}). Needs a human: nothing was undone`,
      'Warning',
    );
    return;
  }
  const note = `inspected after the ${after} result was lost: ${pendingNow.length} migration(s) pending`;
  if (after !== 'migrate') {
    status.lastError = { step: after, message: note };
    finish(
      ctx,
      'Failed',
      'failed',
      'OutcomeUnknown',
      `${capitalize(after)} outcome unknown; ${note}. Needs a human`,
      'Warning',
    );
    return;
  }
  const planned = status.plan?.pending ?? [];
  const complete = (status.plan?.pendingCount ?? planned.length) === planned.length;
  const stillPending = new Set(pendingNow);
  const applied = planned.filter((n) => !stillPending.has(n));
  const total = status.plan?.pendingCount ?? planned.length;
  setProgress(ctx, { applied: Math.max(0, total - pendingNow.length), total });
  if (pendingNow.length === 0 && result?.ok) {
    status.applied = applied.map((n) => ({ name: n, durationMs: 0 }));
    status.appliedCount = status.plan?.pendingCount ?? applied.length;
    const message = `Every migration of the plan is applied and verified (${note}; durations unknown)`;
    stepCondition(ctx, 'MigrationsApplied', true, 'AppliedPerInspection', message);
    stepCondition(ctx, 'Verified', true, 'Verified', message);
    finish(ctx, 'Succeeded', 'succeeded', 'Succeeded', message, 'Normal');
    return;
  }
  const message = `the migrate Job's result was lost; ${note}`;
  status.lastError = { step: 'migrate', message };
  if (!complete) {
    // The status keeps only the first names of a long plan: a revert by name could not be exact.
    finish(
      ctx,
      'Failed',
      'failed',
      'OutcomeUnknown',
      `Migrate outcome unknown: ${message}; the plan is longer than the names the status keeps. Needs a human`,
      'Warning',
    );
    return;
  }
  afterMigrateFailure(
    ctx,
    applied.map((n) => ({ name: n, durationMs: 0 })),
    // In `none` mode the migration that was running may have left changes the table does not show.
    ctx.spec.migrations.transactionMode === 'none',
    `Migrate outcome unknown: ${message}`,
  );
}

/**
 * status.progress of the migrate step: the last observed value, kept as it is
 * after the step ends (then it says how far the step got). Only new values
 * change it, so the status is written once per migration, not once per poll.
 */
function setProgress(ctx: Ctx, p: MigrateProgress, failed = false): void {
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

function paramsFor(ctx: Ctx, phase: ActivePhase): StepParams {
  if (phase === 'Migrating') {
    const checked = ctx.status.run?.checkedPlan;
    return checked ? { checkedPlan: checked } : {};
  }
  if (phase === 'Restoring') return ctx.status.backup?.path ? { backupPath: ctx.status.backup.path } : {};
  if (phase === 'RollingBack') {
    if (ctx.status.revert) return { revertMigrations: ctx.status.revert.migrations };
    const rb = ctx.spec.rollback;
    if (rb)
      return {
        ...(rb.steps !== undefined ? { revertSteps: rb.steps } : {}),
        ...(rb.toMigration ? { revertTo: rb.toMigration } : {}),
      };
    return {};
  }
  return {};
}

function stepSeconds(job: V1Job, result: JobResult | undefined): number {
  if (result) {
    const ms = Date.parse(result.finishedAt) - Date.parse(result.startedAt);
    if (Number.isFinite(ms) && ms >= 0) return ms / 1000;
  }
  const start = job.status?.startTime ? new Date(job.status.startTime).getTime() : NaN;
  const end = job.status?.completionTime ? new Date(job.status.completionTime).getTime() : Date.now();
  return Number.isFinite(start) ? Math.max(0, (end - start) / 1000) : 0;
}

function stepCondition(ctx: Ctx, type: string, ok: boolean, reason: string, message: string): void {
  ctx.status.conditions = setCondition(
    ctx.status.conditions ?? [],
    { type, status: ok ? 'True' : 'False', reason, message },
    ctx.now,
    ctx.run.generation,
  );
}

function onStepSucceeded(ctx: Ctx, phase: ActivePhase, result: JobResult): void {
  const { status, spec } = ctx;
  switch (phase) {
    case 'Checking': {
      const plan = result.plan ?? { pending: [], hash: '', findings: [], notCaptured: [] };
      const blockOn = new Set<FindingCategory>(blockingCategories(spec));
      const blocking = plan.findings.filter((f) => blockOn.has(f.category));
      // Totals are counted over the full lists; the lists may have been shortened to fit 4 KiB.
      const blockingCount = Math.max(result.totals?.blocking ?? 0, blocking.length);
      const pendingCount = Math.max(result.totals?.pending ?? 0, plan.pending.length);
      status.plan = {
        pending: plan.pending.slice(0, 50),
        hash: plan.hash,
        // Blocking findings first: they are the ones a person must see.
        findings: [...blocking, ...plan.findings.filter((f) => !blockOn.has(f.category))].slice(0, 20),
        // One line per migration and rule: a rule filed under two categories is still one thing to read.
        blocking: [...new Set(blocking.map((f) => `${f.migration}: ${f.rule}`))].slice(0, 20),
        pendingCount,
        findingsCount: Math.max(result.totals?.findings ?? 0, plan.findings.length),
        blockingCount,
        configMap: planConfigMapName(ctx.dm.metadata.name),
      };
      ctx.out.pendingMigrations = pendingCount;
      // Frozen with the run: the migrate Job refuses files other than the ones checked here.
      if (plan.checksums && status.run)
        status.run = { ...status.run, checkedPlan: { checksums: plan.checksums, pendingCount } };
      const summary = `${pendingCount} pending migration(s), ${status.plan.findingsCount} finding(s)`;
      stepCondition(ctx, 'Checked', true, 'PlanChecked', summary);
      if (blockingCount > 0 && spec.safety.approval !== plan.hash) {
        const list = blocking
          .slice(0, 5)
          .map((f) => `${f.migration}: ${f.message} [${f.category}]`)
          .join('; ');
        const message = `Blocked by spec.safety.block: ${list}. To accept this plan set spec.safety.approval: "${plan.hash}"`;
        finish(ctx, 'Blocked', 'blocked', 'PlanBlocked', message, 'Warning');
        return;
      }
      ctx.out.actions.push({ kind: 'event', type: 'Normal', reason: 'Checked', message: summary });
      if (pendingCount === 0) {
        status.appliedCount = 0;
        status.applied = [];
        finish(
          ctx,
          'Succeeded',
          'succeeded',
          'UpToDate',
          'Nothing to migrate: no pending migrations',
          'Normal',
        );
        return;
      }
      if (spec.backup.enabled) startStep(ctx, 'BackingUp', 'Backing up the database');
      else startStep(ctx, 'Migrating', 'Applying migrations (backup disabled)');
      return;
    }
    case 'BackingUp': {
      const backup = result.backup;
      if (!backup || (spec.backup.verify && !backup.verified)) {
        onStepFailed(ctx, phase, 'the backup was not verified', result);
        return;
      }
      status.backup = { ...backup, completedAt: result.finishedAt };
      const message = `Backup ${backup.path}: ${backup.sizeBytes} bytes, sha256 ${backup.sha256.slice(0, 12)}, verified ${backup.verified}`;
      stepCondition(ctx, 'BackedUp', true, 'BackupVerified', message);
      ctx.out.actions.push({ kind: 'event', type: 'Normal', reason: 'BackedUp', message });
      if (spec.rollback) startRevert(ctx, 'Reverting as requested by spec.rollback');
      else startStep(ctx, 'Migrating', 'Applying migrations');
      return;
    }
    case 'Migrating': {
      const applied = (result.migrations ?? []).filter((m) => m.outcome !== 'failed');
      status.applied = applied.slice(0, 50).map((m) => ({ name: m.name, durationMs: m.durationMs }));
      status.appliedCount = applied.length;
      setProgress(ctx, { applied: applied.length, total: applied.length });
      ctx.out.pendingMigrations = result.verify?.pending.length ?? 0;
      const message = `Applied ${applied.length} migration(s): ${applied
        .map((m) => `${m.name} (${m.durationMs} ms)`)
        .slice(0, 10)
        .join(', ')}`;
      stepCondition(ctx, 'MigrationsApplied', true, 'Applied', message);
      stepCondition(
        ctx,
        'Verified',
        true,
        'Verified',
        'No pending migrations; the migrations table matches the files',
      );
      ctx.out.actions.push({ kind: 'event', type: 'Normal', reason: 'MigrationsApplied', message });
      finish(ctx, 'Succeeded', 'succeeded', 'Succeeded', message, 'Normal');
      return;
    }
    case 'RollingBack': {
      const reverted = (result.migrations ?? []).map((m) => m.name);
      const message = `Reverted ${reverted.length} migration(s)${reverted.length ? `: ${reverted.slice(0, 10).join(', ')}` : ''}`;
      stepCondition(ctx, 'RolledBack', true, 'Reverted', message);
      if (spec.rollback) {
        status.applied = (result.migrations ?? []).map((m) => ({ name: m.name, durationMs: m.durationMs }));
        status.appliedCount = reverted.length;
        status.rollbackDone = { hash: rollbackHash(spec.rollback), generation: ctx.run.generation };
        finish(ctx, 'RolledBack', 'rolled_back', 'RolledBack', message, 'Normal');
      } else {
        const cause = status.lastError ? ` after: ${status.lastError.message}` : '';
        finish(
          ctx,
          'RolledBack',
          'rolled_back',
          'MigrationFailedRolledBack',
          `${message}${cause}`,
          'Warning',
        );
      }
      return;
    }
    case 'Restoring': {
      const message = `Restored ${status.backup?.path ?? 'the backup'} and verified row counts and the migrations table`;
      stepCondition(ctx, 'Restored', true, 'Restored', message);
      const cause = status.lastError ? ` after: ${status.lastError.message}` : '';
      finish(ctx, 'Restored', 'restored', 'MigrationFailedRestored', `${message}${cause}`, 'Warning');
      return;
    }
  }
}

function onStepFailed(ctx: Ctx, phase: ActivePhase, message: string, result: JobResult | undefined): void {
  const { status, spec } = ctx;
  const step = STEP_OF_PHASE[phase];
  const err = result?.error;
  status.lastError = {
    step,
    message: err?.message ?? message,
    ...(err?.code ? { code: err.code } : {}),
    ...(err?.migration ? { migration: err.migration } : {}),
  };
  const where = err?.migration ? ` in ${err.migration}` : '';
  const code = err?.code ? ` (SQLSTATE ${err.code})` : '';
  const text = `${capitalize(step)} failed${where}: ${status.lastError.message}${code}`;
  switch (phase) {
    case 'Checking':
      stepCondition(ctx, 'Checked', false, 'CheckFailed', text);
      finish(ctx, 'Failed', 'failed', 'CheckFailed', `${text}. The database was not changed`, 'Warning');
      return;
    case 'BackingUp':
      stepCondition(ctx, 'BackedUp', false, 'BackupFailed', text);
      finish(ctx, 'Failed', 'failed', 'BackupFailed', `${text}. The database was not changed`, 'Warning');
      return;
    case 'Migrating': {
      const applied = (result?.migrations ?? []).filter((m) => m.outcome === 'applied');
      // In `none` mode the failed migration's statements before the error stay committed.
      const partial = spec.migrations.transactionMode === 'none' && Boolean(err?.migration);
      const total = Math.max(
        status.progress?.total ?? status.plan?.pendingCount ?? 0,
        applied.length + (err?.migration ? 1 : 0),
      );
      setProgress(
        ctx,
        { applied: applied.length, total, ...(err?.migration ? { current: err.migration } : {}) },
        true,
      );
      afterMigrateFailure(ctx, applied, partial, text);
      return;
    }
    case 'RollingBack':
      stepCondition(ctx, 'RolledBack', false, 'RollbackFailed', text);
      finish(
        ctx,
        'Failed',
        'failed',
        'RollbackFailed',
        `${text}. Needs a human: the database may be between migrations`,
        'Warning',
      );
      return;
    case 'Restoring': {
      stepCondition(ctx, 'Restored', false, 'RestoreFailed', text);
      const down = status.scaledDown?.map((w) => `${w.kind}/${w.name}`).join(', ');
      const left = down ? `. Workloads left at zero replicas: ${down}` : '';
      finish(ctx, 'Failed', 'failed', 'RestoreFailed', `${text}${left}`, 'Warning');
      return;
    }
  }
}

/**
 * The way back after a failed migrate is the smallest that is exact: nothing
 * when the failure left no change (restoring would throw away every write since
 * the backup); revert by name of what this run applied; restore otherwise.
 */
function afterMigrateFailure(
  ctx: Ctx,
  applied: readonly { name: string; durationMs: number }[],
  partial: boolean,
  text: string,
): void {
  const { status, spec } = ctx;
  status.applied = applied.map((m) => ({ name: m.name, durationMs: m.durationMs }));
  status.appliedCount = applied.length;
  stepCondition(ctx, 'MigrationsApplied', false, 'MigrationFailed', text);
  ctx.out.actions.push({ kind: 'event', type: 'Warning', reason: 'MigrationFailed', message: text });
  const changed = applied.length > 0 || partial;
  if (spec.onFailure === 'revert' && !spec.rollback) {
    if (applied.length === 0) {
      const why = partial
        ? 'No migration of this run stayed applied, but the failed one ran without a transaction and may have left changes'
        : 'No migration of this run stayed applied';
      stepCondition(ctx, 'RolledBack', !partial, 'NothingToRevert', why);
      if (partial)
        finish(ctx, 'Failed', 'failed', 'PartialMigration', `${text}. ${why}: needs a human`, 'Warning');
      else
        finish(ctx, 'RolledBack', 'rolled_back', 'MigrationFailedRolledBack', `${text}. ${why}`, 'Warning');
      return;
    }
    // Newest first: the order a revert must undo them in.
    const names = applied.map((m) => m.name).reverse();
    startRevert(ctx, `Reverting ${names.length} migration(s) applied by this run`, names);
    return;
  }
  if (spec.onFailure === 'restore' && status.backup?.path) {
    if (!changed) {
      const why =
        'The failed migration rolled itself back and no migration of this run stayed applied: the database is as it was, so the backup was not restored (that would discard every write since it was taken)';
      stepCondition(ctx, 'Restored', false, 'RestoreNotNeeded', why);
      finish(ctx, 'Failed', 'failed', 'MigrationFailed', `${text}. ${why}`, 'Warning', false);
      return;
    }
    startRestore(ctx, 'Restoring the backup (emergency rollback)');
    return;
  }
  finish(ctx, 'Failed', 'failed', 'MigrationFailed', text, 'Warning', false);
}

/** The API server refused a step's Job (quota, admission, an invalid field): visible, terminal, lock released. */
export function jobRefused(
  dm: DatabaseMigration,
  status: DatabaseMigrationStatus,
  step: JobStep,
  apiMessage: string,
  now: Date,
): { status: DatabaseMigrationStatus; event: Extract<Action, { kind: 'event' }> } {
  const next: DatabaseMigrationStatus = { ...status };
  const gen = status.observedGeneration ?? dm.metadata.generation;
  const message = `The API server refused the ${step} Job: ${apiMessage}. Fix the spec (jobTemplate, quota, service account) and retry`;
  next.phase = 'Failed';
  next.completedAt = now.toISOString();
  next.lastError = { step, message: `Job refused: ${apiMessage}` };
  const at = now.toISOString();
  let c = next.conditions ?? [];
  c = setCondition(c, { type: 'Ready', status: 'False', reason: 'JobRefused', message }, at, gen);
  c = setCondition(c, { type: 'Reconciling', status: 'False', reason: 'JobRefused', message }, at, gen);
  c = setCondition(c, { type: 'Stalled', status: 'True', reason: 'JobRefused', message }, at, gen);
  next.conditions = c;
  const entry = {
    generation: gen,
    attempt: status.attempt ?? 1,
    phase: 'Failed' as const,
    ...(status.startedAt ? { startedAt: status.startedAt } : {}),
    completedAt: at,
    message: message.slice(0, 300),
  };
  next.history = [entry, ...(status.history ?? [])].slice(0, HISTORY_LIMIT);
  return { status: next, event: { kind: 'event', type: 'Warning', reason: 'JobRefused', message } };
}

function finish(
  ctx: Ctx,
  phase: Phase,
  result: RunResult,
  reason: string,
  message: string,
  eventType: 'Normal' | 'Warning',
  emit = true,
): void {
  const { status } = ctx;
  status.phase = phase;
  status.completedAt = ctx.now;
  delete status.inspection;
  ctx.out.runFinished = result;
  ctx.out.holdsTarget = false;
  // Whatever the end, the workloads the run stopped go back (the record of
  // replicas stays until the controller has scaled them), but not after a failed restore.
  if (status.scaledDown?.length && !keepsWorkloadsDown(status))
    ctx.out.actions.push({ kind: 'scaleUp', workloads: status.scaledDown });
  if (emit || eventType === 'Warning')
    ctx.out.actions.push({ kind: 'event', type: eventType, reason, message });
  setPhaseConditions(ctx, phase, message, reason);
  const entry = {
    generation: ctx.run.generation,
    attempt: ctx.run.attempt,
    phase,
    ...(status.startedAt ? { startedAt: status.startedAt } : {}),
    completedAt: ctx.now,
    message: message.slice(0, 300),
  };
  status.history = [entry, ...(status.history ?? [])].slice(0, HISTORY_LIMIT);
}

/** Ready/Reconciling/Stalled as kstatus reads them. */
function setPhaseConditions(ctx: Ctx, phase: Phase, message: string, reason: string = phase): void {
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

/** The Queued message: the same whichever run holds the database, so a new holder rewrites no queued status. */
export function queuedMessage(target: string): string {
  return `Waiting for another run on ${target} to finish (one run at a time per database)`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
