import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { DatabaseMigration, DatabaseMigrationStatus } from '../crds/database-migration.js';
import type { JobResult, JobStep } from '../crds/job-result.js';
import { getCondition } from './conditions.js';
import { jobName } from './job-names.js';
import { jobRefused, PROGRESS_POLL_MS, reconcile, type Action, type ReconcileOutput } from './reconciler.js';
import { jobForStep } from './step-jobs.js';

const config = { migratorImage: 'migrator:test', imagePullPolicy: 'IfNotPresent' as const };
const now = new Date('2026-11-24T12:00:00Z');

function resource(
  overrides: Partial<DatabaseMigration['spec']> = {},
  status?: DatabaseMigrationStatus,
  generation = 1,
): DatabaseMigration {
  return {
    apiVersion: 'dbmigrate.io/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name: 'shop', namespace: 'apps', uid: 'uid-1', generation, resourceVersion: '10' },
    spec: {
      database: {
        host: 'pg',
        port: 5432,
        database: 'shop',
        user: 'app',
        sslMode: 'disable',
        passwordSecretRef: { name: 'db', key: 'password' },
      },
      migrations: {
        image: 'shop:2',
        path: '/app/dist/migrations',
        transactionMode: 'all',
        tableName: 'migrations',
      },
      backup: {
        enabled: true,
        pvcName: 'backups',
        format: 'custom',
        parallelJobs: 1,
        retention: 5,
        verify: true,
      },
      safety: { block: ['destructive', 'dataLoss'] },
      onFailure: 'none',
      restoreWorkloads: [],
      timeouts: { lockTimeoutSeconds: 10, statementTimeoutSeconds: 0, advisoryLockWaitSeconds: 300 },
      jobTemplate: { activeDeadlineSeconds: 3600, backoffLimit: 0 },
      ...overrides,
    } as DatabaseMigration['spec'],
    ...(status ? { status } : {}),
  };
}

const run = (generation = 1, attempt = 1) => ({ uid: 'uid-1', name: 'shop', generation, attempt });

function finishedJob(step: JobStep, ok: boolean, generation = 1, attempt = 1): V1Job {
  return {
    metadata: {
      name: jobName(run(generation, attempt), step, step === 'verify' ? 'migrate' : undefined),
      namespace: 'apps',
    },
    status: { conditions: [{ type: ok ? 'Complete' : 'Failed', status: 'True' }] },
  } as V1Job;
}

function podWithResult(step: JobStep, result: Partial<JobResult>, generation = 1, attempt = 1): V1Pod {
  const message = JSON.stringify({
    step,
    ok: true,
    startedAt: '2026-11-24T11:59:00Z',
    finishedAt: '2026-11-24T11:59:30Z',
    ...result,
  });
  return {
    metadata: {
      name: `${jobName(run(generation, attempt), step, step === 'verify' ? 'migrate' : undefined)}-abcde`,
      labels: {
        'batch.kubernetes.io/job-name': jobName(
          run(generation, attempt),
          step,
          step === 'verify' ? 'migrate' : undefined,
        ),
      },
    },
    status: {
      containerStatuses: [
        {
          name: 'migrator',
          image: 'm',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: result.ok === false ? 1 : 0, message } },
        },
      ],
    },
  } as V1Pod;
}

/** The Jobs the edge would build for the run's startStep intents (from the frozen plan in out.status). */
const created = (out: ReconcileOutput, dm: DatabaseMigration = resource()) =>
  out.actions
    .filter((a): a is Extract<Action, { kind: 'startStep' }> => a.kind === 'startStep')
    .map((a) => ({ step: a.step, params: a.params, job: jobForStep(dm, out.status, a, config) }));
const events = (out: ReconcileOutput) =>
  out.actions.filter((a): a is Extract<Action, { kind: 'event' }> => a.kind === 'event');
const cond = (out: ReconcileOutput, type: string) => getCondition(out.status.conditions, type)?.status;

/** Drives one step: the step's Job finished with `result`. */
function step(
  dm: DatabaseMigration,
  prev: ReconcileOutput,
  s: JobStep,
  result: Partial<JobResult>,
): ReconcileOutput {
  const ok = result.ok !== false;
  return reconcile({
    dm: { ...dm, status: prev.status },
    jobs: [finishedJob(s, ok)],
    pods: [podWithResult(s, result)],
    now,
    config,
  });
}

const backupResult = {
  backup: {
    path: '/backups/apps/shop/x.dump',
    format: 'custom' as const,
    sizeBytes: 2048,
    sha256: 'ab'.repeat(32),
    verified: true,
  },
};
const plan = (
  findings: JobResult['plan'] extends infer P ? (P extends { findings: infer F } ? F : never) : never = [],
) => ({
  plan: { pending: ['AddProductAttributes1709123456789'], hash: 'h1', findings, notCaptured: [] },
});

describe('reconcile: the happy path', () => {
  it('starts with a check Job and Reconciling=True, observedGeneration set at once', () => {
    const out = reconcile({ dm: resource(), jobs: [], pods: [], now, config });
    expect(out.status.phase).toBe('Checking');
    expect(out.status.observedGeneration).toBe(1);
    expect(created(out).map((a) => a.step)).toEqual(['check']);
    expect(cond(out, 'Reconciling')).toBe('True');
    expect(cond(out, 'Ready')).toBe('False');
    expect(out.holdsTarget).toBe(true);
  });

  it('goes check → backup → migrate → Succeeded with Ready=True', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const b = step(dm, a, 'check', plan());
    expect(b.status.phase).toBe('BackingUp');
    expect(created(b)[0]?.step).toBe('backup');
    const c = step(dm, b, 'backup', backupResult);
    expect(c.status.phase).toBe('Migrating');
    expect(c.status.backup?.sha256).toBe('ab'.repeat(32));
    expect(cond(c, 'BackedUp')).toBe('True');
    const d = step(dm, c, 'migrate', {
      migrations: [{ name: 'AddProductAttributes1709123456789', durationMs: 12, outcome: 'applied' }],
      verify: { pending: [], problems: [] },
    });
    expect(d.status.phase).toBe('Succeeded');
    expect(cond(d, 'Ready')).toBe('True');
    expect(cond(d, 'Reconciling')).toBe('False');
    expect(cond(d, 'Stalled')).toBe('False');
    expect(d.status.appliedCount).toBe(1);
    expect(d.runFinished).toBe('succeeded');
    expect(d.holdsTarget).toBe(false);
    expect(d.status.history?.[0]?.phase).toBe('Succeeded');
    // Reconciling again changes nothing and creates nothing.
    const e = reconcile({ dm: { ...dm, status: d.status }, jobs: [], pods: [], now, config });
    expect(e.actions).toEqual([]);
    expect(e.status).toEqual(d.status);
  });

  it('waits while a Job runs and re-creates (adopts) a Job it cannot see', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const running = { metadata: { name: jobName(run(), 'check') }, status: { active: 1 } } as V1Job;
    const b = reconcile({ dm: { ...dm, status: a.status }, jobs: [running], pods: [], now, config });
    expect(b.actions).toEqual([]);
    const c = reconcile({ dm: { ...dm, status: a.status }, jobs: [], pods: [], now, config });
    expect(created(c)[0]?.job.metadata?.name).toBe(jobName(run(), 'check'));
  });
});

describe('reconcile: defaults', () => {
  it('builds Jobs from the parsed spec, so defaults the API server did not fill are there', () => {
    const dm = resource();
    const raw = { ...dm, spec: { ...dm.spec } } as DatabaseMigration;
    delete (raw.spec as Partial<DatabaseMigration['spec']>).timeouts;
    delete (raw.spec as Partial<DatabaseMigration['spec']>).jobTemplate;
    const out = reconcile({ dm: raw, jobs: [], pods: [], now, config });
    const job = created(out)[0]?.job;
    expect(job?.spec?.template.spec?.containers[0]?.env).toContainEqual({
      name: 'ADVISORY_LOCK_WAIT_SECONDS',
      value: '300',
    });
    expect(job?.spec?.activeDeadlineSeconds).toBe(3600);
  });
});

describe('reconcile: failures', () => {
  it('a failed migrate Job gives Failed, Stalled=True, the PostgreSQL error and a Warning event', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const b = step(dm, step(dm, a, 'check', plan()), 'backup', backupResult);
    const c = step(dm, b, 'migrate', {
      ok: false,
      error: {
        message: 'relation "product_variants" does not exist',
        code: '42P01',
        migration: 'Broken1709123456790',
      },
      migrations: [],
    });
    expect(c.status.phase).toBe('Failed');
    expect(cond(c, 'Stalled')).toBe('True');
    expect(c.status.lastError).toMatchObject({
      step: 'migrate',
      code: '42P01',
      migration: 'Broken1709123456790',
    });
    const warning = events(c).find((e) => e.type === 'Warning');
    expect(warning?.message).toContain('relation "product_variants" does not exist');
  });

  it('a Job that completed without a result is a failure, never a success', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const b = step(dm, a, 'check', plan());
    const c = reconcile({
      dm: { ...dm, status: b.status },
      jobs: [finishedJob('backup', true)],
      pods: [],
      now,
      config,
    });
    expect(c.status.phase).toBe('Failed');
    expect(c.status.lastError?.message).toMatch(/no result/);
  });

  it('one run at a time per database by its identity: recorded from the check, then a run on it by another spelling waits', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const database = { key: 'a'.repeat(32), server: 'system:7301', databaseOid: 16384 };
    const checked = { ...plan(), database };
    const b = reconcile({
      dm: { ...dm, status: a.status },
      jobs: [finishedJob('check', true)],
      pods: [podWithResult('check', checked)],
      now,
      config,
    });
    // First the identity is recorded (the edge claims it), no step yet.
    expect(b.status.phase).toBe('Checking');
    expect(b.status.databaseIdentity).toEqual({ key: database.key, server: database.server });
    expect(created(b)).toEqual([]);
    const input = {
      jobs: [finishedJob('check', true)],
      pods: [podWithResult('check', checked)],
      now,
      config,
    };
    const waiting = reconcile({ dm: { ...dm, status: b.status }, ...input, databaseHolder: 'billing/other' });
    expect(waiting.status.phase).toBe('Checking');
    expect(created(waiting)).toEqual([]);
    expect(waiting.holdsTarget).toBe(true);
    expect(waiting.actions).toContainEqual(expect.objectContaining({ kind: 'event', reason: 'Queued' }));
    expect(getCondition(waiting.status.conditions, 'Reconciling')?.message).toMatch(
      /waiting for billing\/other/,
    );
    const free = reconcile({ dm: { ...dm, status: waiting.status }, ...input });
    expect(free.status.phase).toBe('BackingUp');
    expect(created(free).map((j) => j.step)).toEqual(['backup']);
    // The check is measured (and its result published) once, when the run moves on from it.
    expect([b, waiting].flatMap((o) => o.stepsFinished)).toEqual([]);
    expect(free.stepsFinished).toEqual([{ step: 'check', ok: true, seconds: 30 }]);
    expect(free.actions.filter((x) => x.kind === 'publishResult')).toHaveLength(1);
  });

  it('an unverified backup fails the run before migrating', () => {
    const dm = resource();
    const b = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan());
    const c = step(dm, b, 'backup', { backup: { ...backupResult.backup, verified: false } });
    expect(c.status.phase).toBe('Failed');
    expect(created(c)).toEqual([]);
  });

  it('onFailure revert reverts what this run applied', () => {
    const dm = resource({
      onFailure: 'revert',
      migrations: { image: 'shop:2', path: '/m', transactionMode: 'each', tableName: 'migrations' },
    });
    const b = step(
      dm,
      step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan()),
      'backup',
      backupResult,
    );
    const c = step(dm, b, 'migrate', {
      ok: false,
      error: { message: 'boom', migration: 'B2' },
      migrations: [
        { name: 'A1', durationMs: 3, outcome: 'applied' },
        { name: 'B2', durationMs: 1, outcome: 'failed' },
      ],
    });
    expect(c.status.phase).toBe('RollingBack');
    const revert = created(c)[0];
    expect(revert?.step).toBe('revert');
    // By the run's identity, recorded before the Job: the revert Job reads from the database
    // what this run applied (its history rows), and a re-created one undoes nothing more.
    expect(c.status.revert).toMatchObject({ migrations: ['A1'], appliedBy: 'apps/shop@1.1#uid-1', count: 1 });
    const env = revert?.job.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env).toContainEqual({ name: 'REVERT_APPLIED_BY', value: 'apps/shop@1.1#uid-1' });
    expect(env).toContainEqual({ name: 'MIGRATION_AUTHOR', value: 'apps/shop@1.1#uid-1' });
    expect(env.map((e) => e.name)).not.toContain('REVERT_MIGRATIONS');
    expect(revert?.job.spec?.backoffLimit).toBe(0);
    const d = step(dm, c, 'revert', { migrations: [{ name: 'A1', durationMs: 2, outcome: 'reverted' }] });
    expect(d.status.phase).toBe('RolledBack');
    expect(cond(d, 'Stalled')).toBe('True');
    expect(cond(d, 'Ready')).toBe('False');
  });

  it('a migrate result cut to 4 KiB (45 applied, 3 listed) reverts all 45 by the run, and counts them all', () => {
    const dm = resource({
      onFailure: 'revert',
      migrations: { image: 'shop:2', path: '/m', transactionMode: 'each', tableName: 'migrations' },
    });
    const b = step(
      dm,
      step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan()),
      'backup',
      backupResult,
    );
    const c = step(dm, b, 'migrate', {
      ok: false,
      truncated: true,
      totals: { applied: 45 },
      error: { message: 'boom', migration: 'M46' },
      migrations: [
        { name: 'M44', durationMs: 1, outcome: 'applied' },
        { name: 'M45', durationMs: 1, outcome: 'applied' },
        { name: 'M46', durationMs: 1, outcome: 'failed' },
      ],
    });
    expect(c.status.phase).toBe('RollingBack');
    expect(c.status.appliedCount).toBe(45);
    expect(c.status.revert).toMatchObject({ appliedBy: 'apps/shop@1.1#uid-1', count: 45 });
    expect(created(c)[0]?.job.spec?.template.spec?.containers[0]?.env).toContainEqual({
      name: 'REVERT_APPLIED_BY',
      value: 'apps/shop@1.1#uid-1',
    });
  });

  const eachMode = { image: 'shop:2', path: '/m', transactionMode: 'each' as const, tableName: 'migrations' };
  const partlyApplied = {
    ok: false,
    error: { message: 'boom', migration: 'B2' },
    migrations: [
      { name: 'A1', durationMs: 3, outcome: 'applied' as const },
      { name: 'B2', durationMs: 1, outcome: 'failed' as const },
    ],
  };
  const toMigrating = (dm: DatabaseMigration) =>
    step(
      dm,
      step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan()),
      'backup',
      backupResult,
    );

  it('onFailure restore scales down (recorded first), waits for the Pods, restores, scales back', () => {
    const dm = resource({
      onFailure: 'restore',
      migrations: eachMode,
      restoreWorkloads: [{ kind: 'Deployment', name: 'shop' }],
    });
    const c = step(dm, toMigrating(dm), 'migrate', partlyApplied);
    expect(c.status.phase).toBe('Restoring');
    // First the scale-down intent, no Job yet: the app's Pods must be gone first.
    expect(c.actions.map((a) => a.kind)).toContain('scaleDown');
    expect(created(c)).toEqual([]);
    const recorded = { ...c.status, scaledDown: [{ kind: 'Deployment', name: 'shop', replicas: 3 }] };
    const stillRunning = reconcile({
      dm: { ...dm, status: recorded },
      jobs: [],
      pods: [],
      now,
      config,
      workloadPodsRunning: 2,
    });
    expect(created(stillRunning)).toEqual([]);
    expect(stillRunning.requeueAfterMs).toBeGreaterThan(0);
    const gone = reconcile({
      dm: { ...dm, status: recorded },
      jobs: [],
      pods: [],
      now,
      config,
      workloadPodsRunning: 0,
    });
    const env = created(gone)[0]?.job.spec?.template.spec?.containers[0]?.env;
    expect(created(gone)[0]?.step).toBe('restore');
    expect(env).toContainEqual({ name: 'BACKUP_PATH', value: '/backups/apps/shop/x.dump' });
    const d = step(dm, { ...gone, status: recorded }, 'restore', {});
    expect(d.status.phase).toBe('Restored');
    expect(d.actions).toContainEqual({
      kind: 'scaleUp',
      workloads: [{ kind: 'Deployment', name: 'shop', replicas: 3 }],
    });
    // The record stays until the edge has scaled back; a later reconcile asks again.
    expect(d.status.scaledDown).toEqual([{ kind: 'Deployment', name: 'shop', replicas: 3 }]);
    const again = reconcile({ dm: { ...dm, status: d.status }, jobs: [], pods: [], now, config });
    expect(again.actions).toContainEqual({
      kind: 'scaleUp',
      workloads: [{ kind: 'Deployment', name: 'shop', replicas: 3 }],
    });
    expect(cond(d, 'Stalled')).toBe('True');
  });

  it('a restore waiting for workloads that something keeps scaling back ends Stalled after stopWorkloadsTimeoutSeconds, naming who', () => {
    const dm = resource({
      onFailure: 'restore',
      migrations: eachMode,
      restoreWorkloads: [{ kind: 'Deployment', name: 'shop' }],
    });
    const c = step(dm, toMigrating(dm), 'migrate', partlyApplied);
    expect(c.status.workloadsStoppingSince).toBe(now.toISOString());
    const recorded = { ...c.status, scaledDown: [{ kind: 'Deployment', name: 'shop', replicas: 3 }] };
    const at = (s: number) => new Date(now.getTime() + s * 1000);
    const waiting = reconcile({
      dm: { ...dm, status: recorded },
      jobs: [],
      pods: [],
      now: at(299),
      config,
      workloadPodsRunning: 3,
    });
    expect(waiting.status.phase).toBe('Restoring');
    expect(waiting.requeueAfterMs).toBeGreaterThan(0);
    const out = reconcile({
      dm: { ...dm, status: waiting.status },
      jobs: [],
      pods: [],
      now: at(300),
      config,
      workloadPodsRunning: 3,
      workloadsScaledBackBy: ['argocd-application-controller (Deployment/shop)'],
    });
    expect(out.status.phase).toBe('Failed');
    expect(created(out)).toEqual([]);
    expect(cond(out, 'Stalled')).toBe('True');
    expect(getCondition(out.status.conditions, 'Stalled')?.reason).toBe('WorkloadsDidNotStop');
    expect(out.status.lastError?.message).toBe(
      'Deployment/shop still had 3 Pod(s) 300 s after being scaled to zero; scaled back by argocd-application-controller (Deployment/shop)',
    );
    expect(out.status.workloadsStoppingSince).toBeUndefined();
    expect(out.holdsTarget).toBe(false);
  });

  it('a retry after a failed restore resumes the restore with the same backup (attempt 2), never a new run over the database in between', () => {
    const spec = {
      onFailure: 'restore' as const,
      migrations: eachMode,
      restoreWorkloads: [{ kind: 'Deployment' as const, name: 'shop' }],
    };
    const dm = resource(spec);
    const c = step(dm, toMigrating(dm), 'migrate', partlyApplied);
    const recorded = { ...c.status, scaledDown: [{ kind: 'Deployment', name: 'shop', replicas: 3 }] };
    const started = reconcile({
      dm: { ...dm, status: recorded },
      jobs: [],
      pods: [],
      now,
      config,
      workloadPodsRunning: 0,
    });
    const failed = step(dm, { ...started, status: { ...recorded, ...started.status } }, 'restore', {
      ok: false,
      error: {
        message: 'restore rolled back, the database is unchanged: psql failed: must be owner of extension',
      },
    });
    expect(failed.status.phase).toBe('Failed');
    expect(failed.actions.map((a) => a.kind)).not.toContain('scaleUp');
    const retried = {
      ...resource(spec, failed.status),
      metadata: { ...dm.metadata, annotations: { 'dbmigrate.io/retry': 'r1' } },
    } as DatabaseMigration;
    const r = reconcile({ dm: retried, jobs: [], pods: [], now, config, workloadPodsRunning: 0 });
    expect(r.status.phase).toBe('Restoring');
    expect(r.status.attempt).toBe(2);
    expect(r.status.backup?.path).toBe(failed.status.backup?.path);
    // The workloads first (someone may have scaled them up since), then the restore Job.
    expect(created(r)).toEqual([]);
    expect(r.actions.map((a) => a.kind)).toContain('scaleDown');
    const next = reconcile({
      dm: { ...retried, status: r.status },
      jobs: [],
      pods: [],
      now,
      config,
      workloadPodsRunning: 0,
    });
    const jobs = created(next);
    expect(jobs.map((j) => j.step)).toEqual(['restore']);
    expect(jobs[0]?.job.metadata?.labels?.['dbmigrate.io/attempt']).toBe('2');
    expect(jobs[0]?.job.spec?.template.spec?.containers[0]?.env).toContainEqual({
      name: 'BACKUP_PATH',
      value: failed.status.backup?.path,
    });
    expect(r.actions).toContainEqual(expect.objectContaining({ kind: 'event', reason: 'WayBackResumed' }));
  });

  it('a resource deleted after a failed restore leaves the workloads at zero (never the app on a database in between)', () => {
    const spec = {
      onFailure: 'restore' as const,
      migrations: eachMode,
      restoreWorkloads: [{ kind: 'Deployment' as const, name: 'shop' }],
    };
    const dm = resource(spec);
    const c = step(dm, toMigrating(dm), 'migrate', partlyApplied);
    const recorded = { ...c.status, scaledDown: [{ kind: 'Deployment', name: 'shop', replicas: 3 }] };
    const started = reconcile({
      dm: { ...dm, status: recorded },
      jobs: [],
      pods: [],
      now,
      config,
      workloadPodsRunning: 0,
    });
    const failed = step(dm, { ...started, status: { ...recorded, ...started.status } }, 'restore', {
      ok: false,
      error: { message: 'restore rolled back' },
    });
    expect(failed.status.phase).toBe('Failed');
    const deleted = {
      ...resource(spec, failed.status),
      metadata: {
        ...dm.metadata,
        deletionTimestamp: now.toISOString(),
        finalizers: ['dbmigrate.io/run-guard'],
      },
    } as DatabaseMigration;
    const out = reconcile({ dm: deleted, jobs: [], pods: [], now, config });
    expect(out.actions.map((a) => a.kind)).not.toContain('scaleUp');
    expect(out.actions).toContainEqual(
      expect.objectContaining({ kind: 'event', reason: 'WorkloadsLeftStopped' }),
    );
    expect(out.finalizer).toBe('remove');
  });

  it('a retry after a failed revert resumes reverting what the first attempt applied', () => {
    const spec = { onFailure: 'revert' as const, migrations: eachMode };
    const dm = resource(spec);
    const c = step(dm, toMigrating(dm), 'migrate', partlyApplied);
    const failed = step(dm, c, 'revert', { ok: false, error: { message: 'down() failed', migration: 'A1' } });
    expect(failed.status.phase).toBe('Failed');
    const retried = {
      ...resource(spec, failed.status),
      metadata: { ...dm.metadata, annotations: { 'dbmigrate.io/retry': 'r1' } },
    } as DatabaseMigration;
    const r = reconcile({ dm: retried, jobs: [], pods: [], now, config });
    expect(r.status.phase).toBe('RollingBack');
    const jobs = created(r);
    expect(jobs.map((j) => j.step)).toEqual(['revert']);
    const env = jobs[0]?.job.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env).toContainEqual({ name: 'REVERT_APPLIED_BY', value: 'apps/shop@1.1#uid-1' });
    expect(env).toContainEqual({ name: 'MIGRATION_AUTHOR', value: 'apps/shop@1.2#uid-1' });
  });

  it('onFailure restore does not restore when the failed migration changed nothing', () => {
    for (const transactionMode of ['all', 'each'] as const) {
      const dm = resource({
        onFailure: 'restore',
        migrations: { ...eachMode, transactionMode },
        restoreWorkloads: [{ kind: 'Deployment', name: 'shop' }],
      });
      const c = step(dm, toMigrating(dm), 'migrate', {
        ok: false,
        error: { message: 'boom', migration: 'A1' },
        migrations: [{ name: 'A1', durationMs: 1, outcome: 'failed' }],
      });
      expect(c.status.phase).toBe('Failed');
      expect(c.actions.map((a) => a.kind)).not.toContain('scaleDown');
      expect(created(c)).toEqual([]);
      expect(getCondition(c.status.conditions, 'Restored')?.reason).toBe('RestoreNotNeeded');
    }
  });

  it('in transactionMode none a failed migration may have left changes: restore', () => {
    const dm = resource({ onFailure: 'restore', migrations: { ...eachMode, transactionMode: 'none' } });
    const c = step(dm, toMigrating(dm), 'migrate', {
      ok: false,
      error: { message: 'boom', migration: 'A1' },
      migrations: [{ name: 'A1', durationMs: 1, outcome: 'failed' }],
    });
    expect(c.status.phase).toBe('Restoring');
    expect(created(c)[0]?.step).toBe('restore');
  });

  it('builds every Job of a run from the frozen plan, not from a spec edited mid-run', () => {
    const dm = resource({ onFailure: 'restore', migrations: eachMode });
    const b = toMigrating(dm);
    expect(b.status.run?.spec).toMatchObject({ database: { host: 'pg' } });
    // The user points the resource at another database and another image during the migrate.
    const edited = resource(
      {
        onFailure: 'none',
        database: { ...dm.spec.database, host: 'other-db' },
        migrations: { ...eachMode, image: 'shop:3' },
      },
      b.status,
      2,
    );
    const c = reconcile({
      dm: edited,
      jobs: [finishedJob('migrate', false)],
      pods: [podWithResult('migrate', partlyApplied)],
      now,
      config,
    });
    expect(c.status.phase).toBe('Restoring'); // the frozen onFailure, not the edited one
    const job = created(c, edited)[0]?.job;
    const env = job?.spec?.template.spec?.containers[0]?.env;
    expect(env).toContainEqual({ name: 'PGHOST', value: 'pg' });
  });

  it('a spec that only our validation rejects does not abandon a running migrate', () => {
    const dm = resource();
    const b = toMigrating(dm);
    const broken = {
      ...resource({}, b.status, 2),
      spec: { nonsense: true } as unknown as DatabaseMigration['spec'],
    };
    const c = reconcile({
      dm: broken,
      jobs: [finishedJob('migrate', true)],
      pods: [podWithResult('migrate', { migrations: [] })],
      now,
      config,
    });
    expect(c.status.phase).toBe('Succeeded');
    expect(c.holdsTarget).toBe(false);
  });

  it('unknown is not failed: a migrate Job without a readable result is inspected first', () => {
    const dm = resource({ onFailure: 'revert', migrations: eachMode });
    const b = toMigrating(dm);
    const lost = { metadata: { name: 'x' }, status: {} } as V1Pod; // its Pod is gone: no termination message
    const c = reconcile({
      dm: { ...dm, status: b.status },
      jobs: [finishedJob('migrate', false)],
      pods: [lost],
      now,
      config,
    });
    expect(c.status.phase).toBe('Migrating');
    expect(c.status.inspection?.after).toBe('migrate');
    expect(created(c)[0]?.step).toBe('verify');
    // The database shows the plan applied but for B2: revert exactly those, by name.
    const d = reconcile({
      dm: { ...dm, status: c.status },
      jobs: [finishedJob('migrate', false), finishedJob('verify', false)],
      pods: [podWithResult('verify', { ok: false, verify: { pending: ['B2'], problems: [] } })],
      now,
      config,
    });
    expect(d.status.phase).toBe('RollingBack');
    expect(d.status.revert?.migrations).toEqual([...(b.status.plan?.pending ?? [])].reverse());
    expect(d.status.revert?.migrations.length).toBeGreaterThan(0);
    expect(d.status.inspection).toBeUndefined();
    expect(created(d)[0]?.step).toBe('revert');
    // The revert's result is lost too: a second inspection, with its own Job, never the first's answer.
    const f = reconcile({
      dm: { ...dm, status: d.status },
      jobs: [finishedJob('migrate', false), finishedJob('verify', false), finishedJob('revert', false)],
      pods: [lost, podWithResult('verify', { ok: false, verify: { pending: ['B2'], problems: [] } })],
      now,
      config,
    });
    expect(f.status.phase).toBe('RollingBack');
    expect(f.status.inspection?.after).toBe('revert');
    const second = created(f)[0];
    expect(second?.step).toBe('verify');
    expect(second?.job.metadata?.name).not.toBe(c.status.jobs?.verify);
    expect(f.status.jobs?.verify).toBe(second?.job.metadata?.name);
    // Or it shows everything applied: the run succeeded, whatever the lost result said.
    const e = reconcile({
      dm: { ...dm, status: c.status },
      jobs: [finishedJob('migrate', false), finishedJob('verify', true)],
      pods: [podWithResult('verify', { ok: true, verify: { pending: [], problems: [] } })],
      now,
      config,
    });
    expect(e.status.phase).toBe('Succeeded');
    expect(e.status.inspection).toBeUndefined();
    // The progress says what the inspection found, not the last line read from the lost Pod.
    const total = b.status.plan?.pendingCount ?? 0;
    expect(e.status.progress).toEqual({ applied: total, total, message: `${total}/${total} applied` });
    expect(d.status.progress).toMatchObject({ applied: total - 1, total });
  });

  it('spec.rollback by name reverts exactly those; by steps counts once per run', () => {
    const byName = resource({ rollback: { migrations: ['B2', 'A1'] } });
    const a = step(
      byName,
      reconcile({ dm: byName, jobs: [], pods: [], now, config }),
      'backup',
      backupResult,
    );
    const env = created(a)[0]?.job.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env).toContainEqual({ name: 'REVERT_MIGRATIONS', value: 'B2,A1' });
    const bySteps = resource({ rollback: { steps: 2 } });
    const b = step(
      bySteps,
      reconcile({ dm: bySteps, jobs: [], pods: [], now, config }),
      'backup',
      backupResult,
    );
    const env2 = created(b)[0]?.job.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env2).toEqual(
      expect.arrayContaining([
        { name: 'REVERT_STEPS', value: '2' },
        { name: 'REVERT_STEPS_ONCE', value: 'true' },
      ]),
    );
  });

  it('spec.rollback is carried out once, not again on an unrelated edit', () => {
    const dm = resource({ rollback: { steps: 1 } });
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const b = step(dm, a, 'backup', backupResult);
    expect(created(b)[0]?.step).toBe('revert');
    const c = step(dm, b, 'revert', { migrations: [{ name: 'A1', durationMs: 2, outcome: 'reverted' }] });
    expect(c.status.phase).toBe('RolledBack');
    const edited = resource({ rollback: { steps: 1 }, onFailure: 'revert' }, c.status, 2);
    const d = reconcile({ dm: edited, jobs: [], pods: [], now, config });
    expect(d.status.phase).toBe('RolledBack');
    expect(created(d)).toEqual([]);
    expect(getCondition(d.status.conditions, 'Ready')?.reason).toBe('RollbackAlreadyDone');
    // Migrating forward (spec.rollback removed) ends that request: the same request later is carried out.
    const forward = reconcile({ dm: resource({}, d.status, 3), jobs: [], pods: [], now, config });
    expect(forward.status.rollbackDone).toBeUndefined();
    const again = reconcile({
      dm: resource({ rollback: { steps: 1 } }, forward.status, 4),
      jobs: [],
      pods: [],
      now,
      config,
    });
    expect(again.status.phase).toBe('BackingUp');
    expect(getCondition(again.status.conditions, 'Ready')?.reason).not.toBe('RollbackAlreadyDone');
  });

  it('a resource deleted mid-migrate keeps its finalizer until the run ends; during check it lets go', () => {
    const dm = resource();
    const b = toMigrating(dm);
    const deleting = (status: DatabaseMigrationStatus) => ({
      ...dm,
      metadata: {
        ...dm.metadata,
        deletionTimestamp: '2026-11-24T12:00:00Z',
        finalizers: ['dbmigrate.io/run-guard'],
      },
      status,
    });
    const running = reconcile({
      dm: deleting(b.status),
      jobs: [{ metadata: { name: jobName(run(), 'migrate') }, status: {} } as V1Job],
      pods: [],
      now,
      config,
    });
    expect(running.finalizer).toBe('add');
    expect(running.status.phase).toBe('Migrating');
    const done = reconcile({
      dm: deleting(b.status),
      jobs: [finishedJob('migrate', true)],
      pods: [podWithResult('migrate', { migrations: [] })],
      now,
      config,
    });
    expect(done.status.phase).toBe('Succeeded');
    expect(done.finalizer).toBe('remove');
    const checking = reconcile({ dm, jobs: [], pods: [], now, config });
    expect(checking.finalizer).toBe('add');
    const gone = reconcile({ dm: deleting(checking.status), jobs: [], pods: [], now, config });
    expect(gone.finalizer).toBe('remove');
    expect(gone.actions).toEqual([]);
  });

  it('a Job the API server refuses ends the run Stalled, with the API message', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const r = jobRefused(dm, a.status, 'check', 'serviceAccountName "x" not found', now);
    expect(r.status.phase).toBe('Failed');
    expect(getCondition(r.status.conditions, 'Stalled')?.status).toBe('True');
    expect(getCondition(r.status.conditions, 'Stalled')?.message).toContain(
      'serviceAccountName "x" not found',
    );
    expect(r.event.type).toBe('Warning');
  });
});

describe('reconcile: safety, queueing, validation, retries', () => {
  const destructive = [
    {
      rule: 'drop-column',
      category: 'destructive' as const,
      severity: 'error' as const,
      migration: 'M1',
      message: 'drops a column',
    },
  ];

  it('blocks a plan with blocking findings until the plan hash is approved', () => {
    const dm = resource();
    const b = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan(destructive));
    expect(b.status.phase).toBe('Blocked');
    expect(cond(b, 'Stalled')).toBe('True');
    expect(getCondition(b.status.conditions, 'Stalled')?.message).toContain('spec.safety.approval: "h1"');
    expect(b.holdsTarget).toBe(false);
    const approved = resource(
      { safety: { block: ['destructive', 'dataLoss'], approval: 'h1' } },
      undefined,
      2,
    );
    const c = reconcile({ dm: { ...approved, status: b.status }, jobs: [], pods: [], now, config });
    expect(c.status.phase).toBe('Checking');
    const d = step(approved, c, 'check', plan(destructive));
    // The job names differ per generation, so feed the generation-2 Job.
    const d2 = reconcile({
      dm: { ...approved, status: c.status },
      jobs: [finishedJob('check', true, 2)],
      pods: [podWithResult('check', plan(destructive), 2)],
      now,
      config,
    });
    expect(d.status.phase).not.toBe('Blocked');
    expect(d2.status.phase).toBe('BackingUp');
  });

  it('lists a rule filed under two blocking categories once per migration', () => {
    const dm = resource();
    const twice = [...destructive, { ...destructive[0]!, category: 'dataLoss' as const }];
    const b = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan(twice));
    expect(b.status.phase).toBe('Blocked');
    expect(b.status.plan?.blocking).toEqual(['M1: drop-column']);
    expect(b.status.plan?.blockingCount).toBe(2);
  });

  it('blocks an irreversible down() only when a failure would revert through it', () => {
    const irreversible = [
      {
        rule: 'irreversible-down',
        category: 'irreversible' as const,
        severity: 'error' as const,
        migration: 'M1',
        message: 'down() of M1 runs no SQL',
      },
    ];
    const reverting = resource({ onFailure: 'revert' });
    const b = step(
      reverting,
      reconcile({ dm: reverting, jobs: [], pods: [], now, config }),
      'check',
      plan(irreversible),
    );
    expect(b.status.phase).toBe('Blocked');
    expect(b.status.plan?.blocking).toEqual(['M1: irreversible-down']);
    const leaving = resource({ onFailure: 'none' });
    const c = step(
      leaving,
      reconcile({ dm: leaving, jobs: [], pods: [], now, config }),
      'check',
      plan(irreversible),
    );
    expect(c.status.phase).not.toBe('Blocked');
    expect(c.status.plan?.findingsCount).toBe(1);
  });

  it('queues behind another resource that holds the same database', () => {
    const out = reconcile({ dm: resource(), jobs: [], pods: [], now, config, targetHolder: 'apps/other' });
    expect(out.status.phase).toBe('Queued');
    expect(created(out)).toEqual([]);
    // The Event, written once on entering the queue, names the holder.
    expect(out.actions).toContainEqual(
      expect.objectContaining({
        kind: 'event',
        reason: 'Queued',
        message: expect.stringContaining('apps/other'),
      }),
    );
    expect(out.holdsTarget).toBe(false);
    const later = reconcile({ dm: { ...resource(), status: out.status }, jobs: [], pods: [], now, config });
    expect(later.status.phase).toBe('Checking');
  });

  it('a queued status does not change when the run holding the database changes (writes independent of the queue)', () => {
    const first = reconcile({ dm: resource(), jobs: [], pods: [], now, config, targetHolder: 'apps/a' });
    expect(first.status.phase).toBe('Queued');
    // Each later holder, at a later time: the status the edge would write is the same object.
    let status = first.status;
    for (const [i, holder] of ['apps/b', 'team-x/c', 'apps/d'].entries()) {
      const next = reconcile({
        dm: { ...resource(), status },
        jobs: [],
        pods: [],
        now: new Date(now.getTime() + (i + 1) * 60_000),
        config,
        targetHolder: holder,
      });
      expect(next.status).toEqual(first.status);
      expect(next.actions).toEqual([]);
      expect(JSON.stringify(next.status)).not.toContain(holder);
      status = next.status;
    }
  });

  it('an invalid spec stalls with the field named', () => {
    const dm = resource({
      database: {
        host: '',
        port: 5432,
        database: 'x',
        user: 'u',
        sslMode: 'disable',
        passwordSecretRef: { name: 'db', key: 'p' },
      },
    });
    const out = reconcile({ dm, jobs: [], pods: [], now, config });
    expect(out.status.phase).toBe('Failed');
    expect(cond(out, 'Stalled')).toBe('True');
    expect(getCondition(out.status.conditions, 'Stalled')?.reason).toBe('InvalidSpec');
    expect(getCondition(out.status.conditions, 'Stalled')?.message).toContain('spec.database.host');
  });

  it('a service account the install does not allow stalls, naming spec.jobTemplate.serviceAccountName, before any Job', () => {
    const dm = resource({
      jobTemplate: { activeDeadlineSeconds: 3600, backoffLimit: 0, serviceAccountName: 'admin' },
    });
    const out = reconcile({ dm, jobs: [], pods: [], now, config });
    expect(out.status.phase).toBe('Failed');
    expect(getCondition(out.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'InvalidSpec',
    });
    expect(getCondition(out.status.conditions, 'Stalled')?.message).toContain(
      'spec.jobTemplate.serviceAccountName',
    );
    expect(
      events(out)
        .map((e) => e.message)
        .join(' '),
    ).toContain('spec.jobTemplate.serviceAccountName');
    expect(created(out, dm)).toHaveLength(0);
    const allowed = reconcile({
      dm,
      jobs: [],
      pods: [],
      now,
      config: { ...config, allowedServiceAccounts: ['admin'] },
    });
    expect(allowed.status.phase).not.toBe('Failed');
  });

  it('a failed run is retried with a new attempt when the retry annotation changes', () => {
    const dm = resource();
    const failed = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', {
      ok: false,
      error: { message: 'down' },
    });
    expect(failed.status.phase).toBe('Failed');
    const same = reconcile({ dm: { ...dm, status: failed.status }, jobs: [], pods: [], now, config });
    expect(same.actions).toEqual([]);
    const retried = reconcile({
      dm: {
        ...dm,
        metadata: { ...dm.metadata, annotations: { 'dbmigrate.io/retry': '1' } },
        status: failed.status,
      },
      jobs: [],
      pods: [],
      now,
      config,
    });
    expect(retried.status.attempt).toBe(2);
    expect(created(retried)[0]?.job.metadata?.name).toBe(jobName(run(1, 2), 'check'));
  });

  it('a spec change during a migration waits for the run to end', () => {
    const dm = resource();
    const b = step(
      dm,
      step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan()),
      'backup',
      backupResult,
    );
    const changed = resource({}, b.status, 2);
    const running = { metadata: { name: jobName(run(), 'migrate') }, status: { active: 1 } } as V1Job;
    const out = reconcile({ dm: changed, jobs: [running], pods: [], now, config });
    expect(out.actions).toEqual([]);
    expect(out.status.phase).toBe('Migrating');
    expect(out.status.observedGeneration).toBe(1);
  });
});

describe('reconcile: stopWorkloads', () => {
  const shop = [{ kind: 'Deployment' as const, name: 'shop' }];
  const recordedShop = [{ kind: 'Deployment', name: 'shop', replicas: 3 }];
  const scaleDowns = (out: ReconcileOutput) => out.actions.filter((a) => a.kind === 'scaleDown');
  const scaleUps = (out: ReconcileOutput) => out.actions.filter((a) => a.kind === 'scaleUp');
  /** The edge recorded the replicas (and scaled): what the next reconcile reads. */
  const withRecord = (out: ReconcileOutput): ReconcileOutput => ({
    ...out,
    status: { ...out.status, scaledDown: recordedShop },
  });
  const again = (dm: DatabaseMigration, prev: ReconcileOutput, workloadPodsRunning: number) =>
    reconcile({ dm: { ...dm, status: prev.status }, jobs: [], pods: [], now, config, workloadPodsRunning });

  it('beforeBackup: the workloads are recorded and stopped, their Pods gone, before the backup Job', () => {
    const dm = resource({ restoreWorkloads: shop, stopWorkloads: 'beforeBackup' });
    const b = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan());
    expect(b.status.phase).toBe('BackingUp');
    expect(created(b)).toEqual([]);
    expect(scaleDowns(b)).toEqual([{ kind: 'scaleDown', workloads: shop }]);
    expect(b.requeueAfterMs).toBeGreaterThan(0);
    // Recorded and scaled, but a Pod is still terminating: no backup yet.
    const waiting = again(dm, withRecord(b), 1);
    expect(created(waiting)).toEqual([]);
    expect(waiting.status.phase).toBe('BackingUp');
    const gone = again(dm, withRecord(b), 0);
    expect(created(gone).map((j) => j.step)).toEqual(['backup']);
    // The record is never overwritten by the reconciler: the first replicas stay.
    expect(gone.status.scaledDown).toEqual(recordedShop);
    const c = step(dm, gone, 'backup', backupResult);
    expect(created(c).map((j) => j.step)).toEqual(['migrate']);
    expect(scaleUps(c)).toEqual([]);
    const d = step(dm, c, 'migrate', {
      migrations: [{ name: 'AddProductAttributes1709123456789', durationMs: 12, outcome: 'applied' }],
      verify: { pending: [], problems: [] },
    });
    expect(d.status.phase).toBe('Succeeded');
    expect(scaleUps(d)).toEqual([{ kind: 'scaleUp', workloads: recordedShop }]);
    // Until the edge drops the record, every reconcile asks again; the finalizer holds.
    const e = reconcile({ dm: { ...dm, status: d.status }, jobs: [], pods: [], now, config });
    expect(scaleUps(e)).toEqual([{ kind: 'scaleUp', workloads: recordedShop }]);
    expect(e.finalizer).toBe('add');
  });

  it('onRestore (the default) starts the backup at once and scales nothing', () => {
    const dm = resource({ restoreWorkloads: shop });
    const b = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan());
    expect(created(b).map((j) => j.step)).toEqual(['backup']);
    expect(scaleDowns(b)).toEqual([]);
    expect(b.status.run?.spec).toMatchObject({ stopWorkloads: 'onRestore' });
  });

  it('beforeBackup with backup disabled stops the workloads before the migrate', () => {
    const dm = resource({
      restoreWorkloads: shop,
      stopWorkloads: 'beforeBackup',
      backup: { ...resource().spec.backup, enabled: false },
    });
    const b = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan());
    expect(b.status.phase).toBe('Migrating');
    expect(created(b)).toEqual([]);
    expect(scaleDowns(b)).toHaveLength(1);
    expect(created(again(dm, withRecord(b), 0)).map((j) => j.step)).toEqual(['migrate']);
  });

  it('beforeBackup: a blocked plan never stops the workloads', () => {
    const dm = resource({ restoreWorkloads: shop, stopWorkloads: 'beforeBackup' });
    const b = step(
      dm,
      reconcile({ dm, jobs: [], pods: [], now, config }),
      'check',
      plan([
        {
          rule: 'drop-column',
          category: 'destructive',
          severity: 'error',
          migration: 'M1',
          message: 'drops a column',
        },
      ]),
    );
    expect(b.status.phase).toBe('Blocked');
    expect(scaleDowns(b)).toEqual([]);
    expect(scaleUps(b)).toEqual([]);
  });

  it('beforeBackup: a failed migrate (onFailure none) brings the workloads back', () => {
    const dm = resource({ restoreWorkloads: shop, stopWorkloads: 'beforeBackup' });
    const b = again(
      dm,
      withRecord(step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan())),
      0,
    );
    const c = step(dm, b, 'backup', backupResult);
    const d = step(dm, c, 'migrate', { ok: false, error: { message: 'boom', migration: 'A1' } });
    expect(d.status.phase).toBe('Failed');
    expect(scaleUps(d)).toEqual([{ kind: 'scaleUp', workloads: recordedShop }]);
  });

  it('beforeBackup and onFailure restore: restored brings them back, a failed restore leaves them down', () => {
    const dm = resource({
      restoreWorkloads: shop,
      stopWorkloads: 'beforeBackup',
      onFailure: 'restore',
      migrations: { image: 'shop:2', path: '/m', transactionMode: 'each', tableName: 'migrations' },
    });
    const b = again(
      dm,
      withRecord(step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan())),
      0,
    );
    const c = step(dm, b, 'backup', backupResult);
    const d = step(dm, c, 'migrate', {
      ok: false,
      error: { message: 'boom', migration: 'B2' },
      migrations: [
        { name: 'A1', durationMs: 3, outcome: 'applied' },
        { name: 'B2', durationMs: 1, outcome: 'failed' },
      ],
    });
    expect(d.status.phase).toBe('Restoring');
    // Already recorded and at zero: asked again (idempotent), then the restore Job.
    expect(scaleDowns(d)).toHaveLength(1);
    const e = again(dm, d, 0);
    expect(created(e).map((j) => j.step)).toEqual(['restore']);
    expect(e.status.scaledDown).toEqual(recordedShop);
    const restored = step(dm, e, 'restore', {});
    expect(restored.status.phase).toBe('Restored');
    expect(scaleUps(restored)).toEqual([{ kind: 'scaleUp', workloads: recordedShop }]);
    const failed = step(dm, e, 'restore', { ok: false, error: { message: 'disk full' } });
    expect(failed.status.phase).toBe('Failed');
    expect(scaleUps(failed)).toEqual([]);
    const later = reconcile({ dm: { ...dm, status: failed.status }, jobs: [], pods: [], now, config });
    expect(scaleUps(later)).toEqual([]);
  });
});

describe('reconcile: step deadlines are frozen with the run', () => {
  it('a Job re-created mid-run keeps the deadline the run started with', () => {
    const tpl = { activeDeadlineSeconds: 3600, backoffLimit: 0 };
    const dm = resource({ jobTemplate: { ...tpl, stepDeadlineSeconds: { migrate: 7200 } } });
    const b = step(
      dm,
      step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan()),
      'backup',
      backupResult,
    );
    const edited = resource({ jobTemplate: { ...tpl, stepDeadlineSeconds: { migrate: 60 } } }, b.status, 2);
    // The migrate Job is not seen (cache lag): it is built again, from the frozen plan.
    const c = reconcile({ dm: edited, jobs: [], pods: [], now, config });
    const job = created(c, edited)[0]?.job;
    expect(job?.spec?.activeDeadlineSeconds).toBe(7200);
    expect(job?.spec?.template.spec?.containers[0]?.env).toContainEqual({
      name: 'STEP_DEADLINE_SECONDS',
      value: '7200',
    });
  });
});

describe('reconcile: the migrations cannot change under a run', () => {
  const digest = `sha256:${'c3'.repeat(32)}`;
  const withInit = (pod: V1Pod, imageID: string): V1Pod => ({
    ...pod,
    status: {
      ...pod.status,
      initContainerStatuses: [
        { name: 'copy-migrations', image: 'shop:2', imageID, ready: false, restartCount: 0 },
      ],
    },
  });
  const initImage = (job: V1Job | undefined) =>
    job?.spec?.template.spec?.initContainers?.find((c) => c.name === 'copy-migrations')?.image;

  it('pins the migrations image to the digest the first Pod resolved; later Jobs use it', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    expect(initImage(created(a)[0]?.job)).toBe('shop:2');
    const b = reconcile({
      dm: { ...dm, status: a.status },
      jobs: [finishedJob('check', true)],
      pods: [withInit(podWithResult('check', plan()), `docker.io/library/shop@${digest}`)],
      now,
      config,
    });
    expect(b.status.run?.migrationsImageDigest).toBe(`shop@${digest}`);
    expect(events(b).map((e) => e.reason)).toContain('MigrationsImagePinned');
    const c = step(dm, b, 'backup', backupResult);
    expect(initImage(created(c)[0]?.job)).toBe(`shop@${digest}`);
    // Recorded once: a later Pod with another digest changes nothing.
    expect(c.status.run?.migrationsImageDigest).toBe(`shop@${digest}`);
  });

  it('a local image without a registry digest is not pinned', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const b = reconcile({
      dm: { ...dm, status: a.status },
      jobs: [finishedJob('check', true)],
      pods: [withInit(podWithResult('check', plan()), digest)],
      now,
      config,
    });
    expect(b.status.run?.migrationsImageDigest).toBeUndefined();
  });

  const cmSource = {
    configMapRef: { name: 'shop-migrations' },
    path: '/m',
    transactionMode: 'all' as const,
    tableName: 'migrations',
  };
  const seen = (sha256: string, resourceVersion = '7', uid = 'cm-1') => ({ uid, resourceVersion, sha256 });

  it('a ConfigMap changed mid-run stops the run before the migrate Job, naming it', () => {
    const dm = resource({ migrations: cmSource });
    const a = reconcile({ dm, jobs: [], pods: [], now, config, migrationsConfigMap: seen('h1') });
    expect(a.status.run?.migrationsConfigMap).toEqual({
      name: 'shop-migrations',
      uid: 'cm-1',
      resourceVersion: '7',
      sha256: 'h1',
    });
    const b = step(dm, a, 'check', plan());
    const go = (prev: ReconcileOutput, cm: ReturnType<typeof seen>) =>
      reconcile({
        dm: { ...dm, status: prev.status },
        jobs: [finishedJob('backup', true)],
        pods: [podWithResult('backup', backupResult)],
        now,
        config,
        migrationsConfigMap: cm,
      });
    // A label edit (new resourceVersion, same content) is not a change.
    expect(created(go(b, seen('h1', '8'))).map((j) => j.step)).toEqual(['migrate']);
    const changed = go(b, seen('h2', '9'));
    expect(created(changed)).toEqual([]);
    expect(changed.status.phase).toBe('Failed');
    expect(cond(changed, 'Stalled')).toBe('True');
    const msg = getCondition(changed.status.conditions, 'Stalled')?.message;
    expect(msg).toContain(
      'ConfigMap shop-migrations changed during the run (resourceVersion 7 at its start, 9 now)',
    );
    expect(msg).toContain('The database was not changed');
    expect(changed.holdsTarget).toBe(false);
    const replaced = go(b, seen('h1', '10', 'cm-2'));
    expect(replaced.status.lastError?.message).toBe('ConfigMap shop-migrations was replaced during the run');
  });

  it('a missing migrations ConfigMap stalls the run before its first Job', () => {
    const dm = resource({ migrations: cmSource });
    const a = reconcile({ dm, jobs: [], pods: [], now, config, migrationsConfigMap: { missing: true } });
    expect(created(a)).toEqual([]);
    expect(a.status.phase).toBe('Failed');
    expect(a.status.lastError?.message).toBe(
      'ConfigMap shop-migrations (spec.migrations.configMapRef) does not exist',
    );
  });
});

describe('reconcile: the full plan for people', () => {
  it('asks for the plan ConfigMap after the check and the migrate Jobs, and names it in status.plan', () => {
    const dm = resource();
    const b = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan());
    const published = (out: ReconcileOutput) => out.actions.filter((a) => a.kind === 'publishResult');
    expect(published(b)).toMatchObject([{ step: 'check', job: jobName(run(), 'check'), run: run() }]);
    expect(b.status.plan?.configMap).toBe('shop-plan');
    const c = step(dm, b, 'backup', backupResult);
    expect(published(c)).toEqual([]);
    const d = step(dm, c, 'migrate', { ok: false, error: { message: 'boom' } });
    // A failed migrate's applied list is just as much for people.
    expect(published(d)).toMatchObject([{ step: 'migrate', result: { ok: false } }]);
  });
});

describe('reconcile: approval by checksums', () => {
  it("freezes the check's checksums with the run and hands them to the migrate Job", () => {
    const sums = { AddProductAttributes1709123456789: 'd'.repeat(64) };
    const dm = resource();
    const checked = plan();
    const b = step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', {
      plan: { ...checked.plan, checksums: sums },
      totals: { pending: 1 },
    });
    expect(b.status.run?.checkedPlan).toEqual({ checksums: sums, pendingCount: 1 });
    const c = step(dm, b, 'backup', backupResult);
    const env = created(c)[0]?.job.spec?.template.spec?.containers[0]?.env;
    expect(env).toContainEqual({ name: 'EXPECTED_CHECKSUMS', value: JSON.stringify(sums) });
    expect(env).toContainEqual({ name: 'EXPECTED_PENDING_COUNT', value: '1' });
    // Only the migrate Job carries them.
    expect(created(b)[0]?.job.spec?.template.spec?.containers[0]?.env?.map((e) => e.name)).not.toContain(
      'EXPECTED_CHECKSUMS',
    );
  });

  it('a check without checksums (an older migrator) sends none', () => {
    const dm = resource();
    const c = step(
      dm,
      step(dm, reconcile({ dm, jobs: [], pods: [], now, config }), 'check', plan()),
      'backup',
      backupResult,
    );
    expect(c.status.run?.checkedPlan).toBeUndefined();
    const names = created(c)[0]?.job.spec?.template.spec?.containers[0]?.env?.map((e) => e.name);
    expect(names).not.toContain('EXPECTED_CHECKSUMS');
  });
});

describe('reconcile: live progress of the migrate step', () => {
  const threePlan = {
    plan: { pending: ['A1', 'B2', 'C3'], hash: 'h3', findings: [], notCaptured: [] },
  };
  const migrating = () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const b = step(dm, step(dm, a, 'check', threePlan), 'backup', backupResult);
    return { dm, b };
  };
  const runningMigrate = { metadata: { name: jobName(run(), 'migrate') }, status: { active: 1 } } as V1Job;

  it('starts at 0 of the plan, follows the observed progress and polls while the Job runs', () => {
    const { dm, b } = migrating();
    expect(b.status.phase).toBe('Migrating');
    expect(b.status.progress).toEqual({ applied: 0, total: 3, message: '0/3 applied' });
    const c = reconcile({
      dm: { ...dm, status: b.status },
      jobs: [runningMigrate],
      pods: [],
      now,
      config,
      migrateProgress: { applied: 1, total: 3, current: 'B2' },
    });
    expect(c.actions).toEqual([]);
    expect(c.requeueAfterMs).toBe(PROGRESS_POLL_MS);
    expect(c.status.progress).toEqual({ applied: 1, total: 3, current: 'B2', message: '2/3: B2' });
    // Nothing read this time (log not readable): the last value stays, the status does not change.
    const d = reconcile({ dm: { ...dm, status: c.status }, jobs: [runningMigrate], pods: [], now, config });
    expect(d.status).toEqual(c.status);
    expect(d.requeueAfterMs).toBe(PROGRESS_POLL_MS);
    // The same progress again changes nothing either: one status write per migration, not per poll.
    const e = reconcile({
      dm: { ...dm, status: c.status },
      jobs: [runningMigrate],
      pods: [],
      now,
      config,
      migrateProgress: { applied: 1, total: 3, current: 'B2' },
    });
    expect(e.status).toEqual(c.status);
  });

  it('ignores progress outside the migrate step and stops polling once the run ends', () => {
    const dm = resource();
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const runningCheck = { metadata: { name: jobName(run(), 'check') }, status: { active: 1 } } as V1Job;
    const checking = reconcile({
      dm: { ...dm, status: a.status },
      jobs: [runningCheck],
      pods: [],
      now,
      config,
      migrateProgress: { applied: 1, total: 3, current: 'B2' },
    });
    expect(checking.status.progress).toBeUndefined();
    expect(checking.requeueAfterMs).toBeUndefined();
  });

  it('ends at n/n applied on success; a new run starts without it', () => {
    const { dm, b } = migrating();
    const done = step(dm, b, 'migrate', {
      migrations: ['A1', 'B2', 'C3'].map((name) => ({ name, durationMs: 5, outcome: 'applied' as const })),
      verify: { pending: [], problems: [] },
    });
    expect(done.status.phase).toBe('Succeeded');
    expect(done.status.progress).toEqual({ applied: 3, total: 3, message: '3/3 applied' });
    expect(done.requeueAfterMs).toBeUndefined();
    const next = reconcile({ dm: { ...resource({}, done.status, 2) }, jobs: [], pods: [], now, config });
    expect(next.status.phase).toBe('Checking');
    expect(next.status.progress).toBeUndefined();
  });

  it('on failure says how far the step got and which migration failed', () => {
    const dm = resource({ migrations: { ...resource().spec.migrations, transactionMode: 'each' } });
    const a = reconcile({ dm, jobs: [], pods: [], now, config });
    const b = step(dm, step(dm, a, 'check', threePlan), 'backup', backupResult);
    const failed = step(dm, b, 'migrate', {
      ok: false,
      error: { message: 'boom', migration: 'B2' },
      migrations: [
        { name: 'A1', durationMs: 5, outcome: 'applied' },
        { name: 'B2', durationMs: 0, outcome: 'failed' },
      ],
    });
    expect(failed.status.phase).toBe('Failed');
    expect(failed.status.progress).toEqual({
      applied: 1,
      total: 3,
      current: 'B2',
      message: '1/3 applied, failed: B2',
    });
  });
});
