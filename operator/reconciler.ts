// The reconciler: a pure function from (resource, observed Jobs and Pods,
// whether the target database is free) to (actions, new status). It finds the
// row for (phase, outcome) in the transition table (reconcile/table.ts) and
// carries out the intents the row returns (reconcile/intents.ts); all I/O
// happens at the edge (controller.ts), so every transition is unit-testable.
import {
  RETRY_ANNOTATION,
  targetKey,
  type DatabaseMigrationSpec,
  type DatabaseMigration,
  type DatabaseMigrationStatus,
} from '../crds/database-migration.js';
import type { V1Job } from '@kubernetes/client-node';
import type { JobResult, JobStep } from '../crds/job-result.js';
import { setCondition } from './conditions.js';
import { pinImage, resolvedDigest } from './frozen-sources.js';
import type { RunId } from './job-names.js';
import { observeStep } from './job-observer.js';
import { validateForInstall } from './job-policy.js';
import {
  isActive,
  isTerminal,
  mustFinishBeforeNewGeneration,
  STEP_OF_PHASE,
  type ActivePhase,
} from './phases.js';
import {
  HISTORY_LIMIT,
  keepsWorkloadsDown,
  stepJobName,
  QUEUED_RECHECK_MS,
  type Action,
  type Ctx,
  type ReconcileInput,
  type ReconcileOutput,
} from './reconcile/context.js';
import { carryOut } from './reconcile/intents.js';
import {
  frozenSpec,
  invalidSpec,
  newRunStatus,
  queued,
  resumableWayBack,
  resumeWayBack,
  startRun,
  supersede,
} from './reconcile/run-start.js';
import { outcomeOf, TRANSITIONS } from './reconcile/table.js';

export {
  HISTORY_LIMIT,
  PROGRESS_POLL_MS,
  QUEUED_RECHECK_MS,
  WORKLOADS_RECHECK_MS,
  type Action,
  type ReconcileInput,
  type ReconcileOutput,
  type RunResult,
} from './reconcile/context.js';
export { frozenSpec, queuedMessage, rollbackHash } from './reconcile/run-start.js';

export const FINALIZER = 'dbmigrate.io/run-guard';

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
    if (isActive(live.status.phase)) return { ...live, finalizer: 'add' };
    if (live.status.scaledDown?.length && !keepsWorkloadsDown(live.status))
      return { ...live, finalizer: 'add' };
    return { ...live, finalizer: 'remove' };
  }
  if (out.status.scaledDown?.length && keepsWorkloadsDown(out.status)) {
    // After a failed restore the database is in between: deleting the resource must not
    // start the app on it. The workloads stay at zero; the Event says what to scale back by hand.
    const left = out.status.scaledDown.map((w) => `${w.kind}/${w.name} (${w.replicas} replicas)`).join(', ');
    out.actions.push({
      kind: 'event',
      type: 'Warning',
      reason: 'WorkloadsLeftStopped',
      message: `Deleted after a failed restore: ${left} stay at zero replicas over a database in between; scale them back by hand once it is repaired`,
    });
    out.finalizer = 'remove';
    return out;
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
      const step = activeStep(phase, prev);
      const name = stepJobName(run, step, prev);
      const obs = observeStep(name, input.jobs, input.pods);
      if (obs.state === 'running') {
        out.holdsTarget = true;
        return out;
      }
      out.status = supersede(prev, run, nowIso);
    } else {
      // The run goes on with the spec it froze: an edit of the live spec (even one
      // only our validation rejects) neither changes nor abandons it.
      const frozen = frozenSpec(prev);
      const live = frozen ? undefined : validateForInstall(dm.spec, input.config);
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

  if (sameRun && retryRequested && resumableWayBack(current)) return resume(input, out, current, nowIso);

  const spec = validateForInstall(dm.spec, input.config);
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
    carryOut(ctx, queued.decide(ctx, { step: 'check', message: '' }));
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
  carryOut(ctx, startRun.decide(ctx, { step: 'check', message: '' }));
  return out;
}

/** A retry after a failed way back: the same run's way back, attempt + 1, with its frozen spec and records. */
function resume(
  input: ReconcileInput,
  out: ReconcileOutput,
  current: DatabaseMigrationStatus,
  now: string,
): ReconcileOutput {
  const { dm } = input;
  if (input.targetHolder) {
    // Another run took the database meanwhile: the retry waits (its token is not recorded yet).
    out.requeueAfterMs = QUEUED_RECHECK_MS;
    return out;
  }
  const attempt = (current.attempt ?? 1) + 1;
  const run: RunId = {
    uid: dm.metadata.uid,
    name: dm.metadata.name,
    generation: dm.metadata.generation,
    attempt,
  };
  const retryToken = dm.metadata.annotations?.[RETRY_ANNOTATION];
  const status: DatabaseMigrationStatus = {
    ...current,
    attempt,
    ...(retryToken !== undefined ? { retryToken } : {}),
    jobs: {},
    startedAt: now,
  };
  delete status.completedAt;
  out.status = status;
  out.holdsTarget = true;
  const spec = frozenSpec(current) as DatabaseMigrationSpec;
  const ctx: Ctx = { dm, spec, run, now, status, out, input };
  carryOut(ctx, resumeWayBack.decide(ctx, { step: 'verify', message: '' }));
  return out;
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

/** Looks at the Job of the active phase and carries out the row for (phase, outcome). */
function advanceActive(ctx: Ctx, phase: ActivePhase): void {
  const step = activeStep(phase, ctx.status);
  const name = stepJobName(ctx.run, step, ctx.status);
  const obs = observeStep(name, ctx.input.jobs, ctx.input.pods);
  const inspecting = Boolean(ctx.status.inspection);
  const outcome = outcomeOf(obs, inspecting);
  const seen = {
    step,
    message: obs.state === 'failed' ? obs.message : '',
    ...('result' in obs && obs.result ? { result: obs.result } : {}),
  };
  carryOut(ctx, TRANSITIONS[phase][outcome].decide(ctx, seen));
  if (obs.state === 'absent' || obs.state === 'running') return;
  // A finished Job is measured, and a check's or migrate's full result published for people,
  // once: when the run moves on from it (a row may wait on it, e.g. for the database).
  const next = isActive(ctx.status.phase) ? activeStep(ctx.status.phase, ctx.status) : undefined;
  const nextName = next ? stepJobName(ctx.run, next, ctx.status) : undefined;
  if (ctx.out.runFinished === undefined && nextName === name) return;
  ctx.out.stepsFinished.push({
    step,
    ok: obs.state === 'succeeded',
    seconds: stepSeconds(obs.job, obs.result),
  });
  if (!inspecting && (step === 'check' || step === 'migrate'))
    ctx.out.actions.push({
      kind: 'publishResult',
      step,
      job: name,
      run: ctx.run,
      ...(obs.result ? { result: obs.result } : {}),
    });
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
