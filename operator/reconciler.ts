// The reconciler: a pure function from (resource, observed Jobs and Pods,
// whether the target database is free) to (actions, new status). All I/O
// happens at the edges (controller.ts), so every transition is unit-testable.
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import {
  RETRY_ANNOTATION,
  targetKey,
  validateSpec,
  type DatabaseMigration,
  type DatabaseMigrationSpec,
  type DatabaseMigrationStatus,
  type Phase,
} from '../crds/database-migration.js';
import type { FindingCategory, JobResult, JobStep } from '../crds/job-result.js';
import { setCondition } from './conditions.js';
import { buildJob, type JobBuildConfig, type StepParams } from './job-builder.js';
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

export type Action =
  | { kind: 'createJob'; step: JobStep; job: V1Job }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string }
  | { kind: 'scaleDown'; workloads: { kind: 'Deployment' | 'StatefulSet'; name: string }[] }
  | { kind: 'scaleUp'; workloads: { kind: string; name: string; replicas: number }[] };

export type RunResult = 'succeeded' | 'failed' | 'rolled_back' | 'restored' | 'blocked';

export interface ReconcileInput {
  dm: DatabaseMigration;
  jobs: readonly V1Job[];
  pods: readonly V1Pod[];
  now: Date;
  /** Key (namespace/name) of another resource that holds this target database, if any. */
  targetHolder?: string;
  config: JobBuildConfig;
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
}

interface Ctx {
  dm: DatabaseMigration;
  spec: DatabaseMigrationSpec;
  run: RunId;
  now: string;
  config: JobBuildConfig;
  status: DatabaseMigrationStatus;
  out: ReconcileOutput;
}

export function reconcile(input: ReconcileInput): ReconcileOutput {
  const { dm, now } = input;
  const nowIso = now.toISOString();
  const prev: DatabaseMigrationStatus = dm.status ?? {};
  const out: ReconcileOutput = { status: { ...prev }, actions: [], holdsTarget: false, stepsFinished: [] };
  if (dm.metadata.deletionTimestamp) return out;

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
      const obs = observeStep(jobName(run, STEP_OF_PHASE[phase]), input.jobs, input.pods);
      if (obs.state === 'running') {
        out.holdsTarget = true;
        return out;
      }
      out.status = supersede(prev, run, nowIso);
    } else {
      const spec = validateSpec(dm.spec);
      if (!spec.ok) return invalidSpec(dm, out, nowIso, spec.field, spec.message);
      const ctx: Ctx = {
        dm: { ...dm, spec: spec.spec },
        spec: spec.spec,
        run,
        now: nowIso,
        config: input.config,
        status: out.status,
        out,
      };
      out.holdsTarget = true;
      advanceActive(ctx, phase, input);
      return out;
    }
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
  const target = targetKey(spec.spec.database);
  const fresh = !(sameRun && current.phase === 'Queued' && current.attempt === attempt);
  const status: DatabaseMigrationStatus = fresh
    ? newRunStatus(current, run, target, retryToken)
    : { ...current };
  out.status = status;
  // Jobs are built from the parsed spec: the API server fills only the defaults
  // of fields that are present, zod fills the rest.
  const ctx: Ctx = {
    dm: { ...dm, spec: spec.spec },
    spec: spec.spec,
    run,
    now: nowIso,
    config: input.config,
    status,
    out,
  };

  if (input.targetHolder) {
    const message = `Waiting for ${input.targetHolder}, which is running migrations on ${target}`;
    if (status.phase !== 'Queued') {
      out.actions.push({ kind: 'event', type: 'Normal', reason: 'Queued', message });
    }
    status.phase = 'Queued';
    setPhaseConditions(ctx, 'Queued', message);
    out.requeueAfterMs = QUEUED_RECHECK_MS;
    return out;
  }

  out.holdsTarget = true;
  status.startedAt = nowIso;
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
  const step = STEP_OF_PHASE[phase];
  const job = buildJob(ctx.dm, ctx.run, step, ctx.config, params);
  const name = job.metadata?.name ?? jobName(ctx.run, step);
  ctx.status.phase = phase;
  ctx.status.jobs = { ...(ctx.status.jobs ?? {}), [step]: name };
  ctx.out.actions.push({ kind: 'createJob', step, job });
  ctx.out.actions.push({
    kind: 'event',
    type: 'Normal',
    reason: `${capitalize(step)}Started`,
    message: `${message}: Job ${name}`,
  });
  setPhaseConditions(ctx, phase, `${message} (Job ${name})`);
}

function startRevert(ctx: Ctx, message: string): void {
  startStep(ctx, 'RollingBack', message, paramsFor(ctx, 'RollingBack'));
}

function appliedThisRun(status: DatabaseMigrationStatus): string[] {
  return (status.applied ?? []).map((m) => m.name);
}

/** Looks at the Job of the active phase and moves the run on when it has finished. */
function advanceActive(ctx: Ctx, phase: ActivePhase, input: ReconcileInput): void {
  const step = STEP_OF_PHASE[phase];
  const name = jobName(ctx.run, step);
  const obs = observeStep(name, input.jobs, input.pods);
  if (obs.state === 'absent') {
    // Created before but not seen yet (cache lag), or removed by someone: creating it
    // again is safe, the name is deterministic and AlreadyExists means adopt.
    const params = paramsFor(ctx, phase);
    const job = buildJob(ctx.dm, ctx.run, step, ctx.config, params);
    ctx.status.jobs = { ...(ctx.status.jobs ?? {}), [step]: name };
    ctx.out.actions.push({ kind: 'createJob', step, job });
    return;
  }
  if (obs.state === 'running') return;

  const seconds = stepSeconds(obs.job, obs.result);
  ctx.out.stepsFinished.push({ step, ok: obs.state === 'succeeded', seconds });
  if (obs.state === 'succeeded') onStepSucceeded(ctx, phase, obs.result);
  else onStepFailed(ctx, phase, obs.message, obs.result);
}

function paramsFor(ctx: Ctx, phase: ActivePhase): StepParams {
  if (phase === 'Restoring') return ctx.status.backup?.path ? { backupPath: ctx.status.backup.path } : {};
  if (phase === 'RollingBack') {
    const rb = ctx.spec.rollback;
    if (rb)
      return {
        ...(rb.steps !== undefined ? { revertSteps: rb.steps } : {}),
        ...(rb.toMigration ? { revertTo: rb.toMigration } : {}),
      };
    return { revertSteps: appliedThisRun(ctx.status).length };
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
      const blockOn = new Set<FindingCategory>(spec.safety.block);
      const blocking = plan.findings.filter((f) => blockOn.has(f.category));
      status.plan = {
        pending: plan.pending.slice(0, 50),
        hash: plan.hash,
        findings: plan.findings.slice(0, 20),
        blocking: blocking.map((f) => `${f.migration}: ${f.rule}`).slice(0, 20),
      };
      ctx.out.pendingMigrations = plan.pending.length;
      const summary = `${plan.pending.length} pending migration(s), ${plan.findings.length} finding(s)`;
      stepCondition(ctx, 'Checked', true, 'PlanChecked', summary);
      if (blocking.length > 0 && spec.safety.approval !== plan.hash) {
        const list = blocking
          .slice(0, 5)
          .map((f) => `${f.migration}: ${f.message} [${f.category}]`)
          .join('; ');
        const message = `Blocked by spec.safety.block: ${list}. To accept this plan set spec.safety.approval: "${plan.hash}"`;
        finish(ctx, 'Blocked', 'blocked', 'PlanBlocked', message, 'Warning');
        return;
      }
      ctx.out.actions.push({ kind: 'event', type: 'Normal', reason: 'Checked', message: summary });
      if (plan.pending.length === 0) {
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
      if (status.scaledDown?.length) ctx.out.actions.push({ kind: 'scaleUp', workloads: status.scaledDown });
      status.scaledDown = [];
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
      status.applied = applied.map((m) => ({ name: m.name, durationMs: m.durationMs }));
      status.appliedCount = applied.length;
      stepCondition(ctx, 'MigrationsApplied', false, 'MigrationFailed', text);
      ctx.out.actions.push({ kind: 'event', type: 'Warning', reason: 'MigrationFailed', message: text });
      if (spec.onFailure === 'revert' && !spec.rollback) {
        if (applied.length === 0) {
          stepCondition(
            ctx,
            'RolledBack',
            true,
            'NothingToRevert',
            'No migration of this run stayed applied',
          );
          finish(
            ctx,
            'RolledBack',
            'rolled_back',
            'MigrationFailedRolledBack',
            `${text}. No migration of this run stayed applied`,
            'Warning',
          );
          return;
        }
        startRevert(ctx, `Reverting ${applied.length} migration(s) applied by this run`);
        return;
      }
      if (spec.onFailure === 'restore' && status.backup?.path) {
        status.scaledDown = [];
        if (spec.restoreWorkloads.length)
          ctx.out.actions.push({ kind: 'scaleDown', workloads: spec.restoreWorkloads });
        startStep(ctx, 'Restoring', 'Restoring the backup (emergency rollback)', {
          backupPath: status.backup.path,
        });
        return;
      }
      finish(ctx, 'Failed', 'failed', 'MigrationFailed', text, 'Warning', false);
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
  ctx.out.runFinished = result;
  ctx.out.holdsTarget = false;
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

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
