// The operator SIGKILLed at every point of a run where a crash could repeat or
// lose an action: after each status write, after each Job create, between the
// scale-down record and the scale-down, after the scale-up. A failpoint
// (operator/failpoints.ts) kills the real operator process at that point once;
// the suite restarts it and plays the kubelet (it finishes each Job's Pod with a
// scripted result), then asserts exact outcomes: the final phase, each step's
// Job created exactly once, workloads back at their recorded size, no record
// left behind. Every case is written to docs/reliability.md.
import type * as k8s from '@kubernetes/client-node';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JobResult, JobStep } from '../../crds/job-result.js';
import {
  backupResult,
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  ensureCrd,
  finishJobPod,
  getResource,
  jobsOf,
  migrateResult,
  operatorIdentity,
  planResult,
  result,
  startOperator,
  uniqueName,
  type OperatorIdentity,
  type RunningOperator,
} from '../integration/harness.js';
import { recordReliability, writeReliabilityDoc } from './reliability-report.js';

const c = clients();
const TERMINAL = new Set(['Succeeded', 'Failed', 'Blocked', 'RolledBack', 'Restored']);
const APPLIED = ['AddProductAttributes1709123456789', 'SeedProductCategories1709123456790'];

type Scenario = 'success' | 'revert' | 'restore' | 'lost-result';

interface Case {
  failpoint: string;
  scenario: Scenario;
}

const CASES: Case[] = [
  { failpoint: 'after-status-write:Checking', scenario: 'success' },
  { failpoint: 'after-create-job:check', scenario: 'success' },
  { failpoint: 'after-status-write:BackingUp', scenario: 'success' },
  { failpoint: 'after-create-job:backup', scenario: 'success' },
  { failpoint: 'after-status-write:Migrating', scenario: 'success' },
  { failpoint: 'after-create-job:migrate', scenario: 'success' },
  { failpoint: 'after-status-write:Succeeded', scenario: 'success' },
  { failpoint: 'after-status-write:RollingBack', scenario: 'revert' },
  { failpoint: 'after-create-job:revert', scenario: 'revert' },
  { failpoint: 'after-status-write:RolledBack', scenario: 'revert' },
  { failpoint: 'after-status-write:Restoring', scenario: 'restore' },
  { failpoint: 'after-scale-down', scenario: 'restore' },
  { failpoint: 'after-create-job:restore', scenario: 'restore' },
  { failpoint: 'after-status-write:Restored', scenario: 'restore' },
  { failpoint: 'after-scale-up', scenario: 'restore' },
  { failpoint: 'after-create-job:verify', scenario: 'lost-result' },
];

const EXPECTED: Record<Scenario, { phase: string; steps: JobStep[] }> = {
  success: { phase: 'Succeeded', steps: ['check', 'backup', 'migrate'] },
  revert: { phase: 'RolledBack', steps: ['check', 'backup', 'migrate', 'revert'] },
  restore: { phase: 'Restored', steps: ['check', 'backup', 'migrate', 'restore'] },
  'lost-result': { phase: 'RolledBack', steps: ['check', 'backup', 'migrate', 'verify', 'revert'] },
};

/** The migrate Job applied the first migration, then failed on the second (transactionMode each). */
const failedMigrate = (): JobResult =>
  result('migrate', {
    ok: false,
    error: { message: 'column "x" does not exist', code: '42703', migration: APPLIED[1] },
    migrations: [
      { name: APPLIED[0] as string, durationMs: 12, outcome: 'applied' },
      { name: APPLIED[1] as string, durationMs: 3, outcome: 'failed' },
    ],
  });

function resultFor(scenario: Scenario, step: JobStep): JobResult | 'delete-pod' {
  switch (step) {
    case 'check':
      return planResult();
    case 'backup':
      return backupResult();
    case 'migrate':
      if (scenario === 'success') return migrateResult();
      if (scenario === 'lost-result') return 'delete-pod';
      return failedMigrate();
    case 'verify':
      return result('verify', { ok: false, verify: { pending: [APPLIED[1] as string], problems: [] } });
    case 'revert':
      return result('revert', {
        migrations: [{ name: APPLIED[0] as string, durationMs: 4, outcome: 'reverted' }],
      });
    case 'restore':
      return result('restore');
  }
}

async function deploymentOf(ns: string, replicas: number): Promise<void> {
  await c.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'shop', namespace: ns },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'shop' } },
        template: {
          metadata: { labels: { app: 'shop' } },
          spec: {
            nodeSelector: { 'dbmigrate.io/integration-test': 'no-node-matches' },
            containers: [{ name: 'app', image: 'example/shop:1' }],
          },
        },
      },
    },
  });
}

/** Plays the kubelet until the run ends, restarting the operator whenever the failpoint killed it. */
async function exitedWithin(operator: RunningOperator, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (operator.process.exitCode !== null || operator.process.signalCode !== null) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function drive(
  ns: string,
  name: string,
  scenario: Scenario,
  marker: string,
  start: () => Promise<RunningOperator>,
): Promise<{ kills: number; operator: RunningOperator }> {
  let kills = 0;
  // A failpoint may fire before the operator reports ready (its first reconcile): that is a kill too.
  const startCounting = async (): Promise<RunningOperator> => {
    for (;;) {
      try {
        return await start();
      } catch (err) {
        if (!String((err as Error).message).includes('exited with SIGKILL')) throw err;
        kills++;
      }
    }
  };
  let operator = await startCounting();
  const finished = new Set<string>();
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (Date.now() > deadline)
      throw new Error(`no final phase in 120 s; operator logs:\n${operator.logs().slice(-3000)}`);
    if (operator.process.exitCode !== null || operator.process.signalCode !== null) {
      if (operator.process.signalCode !== 'SIGKILL')
        throw new Error(`operator exited on its own: ${operator.logs().slice(-3000)}`);
      kills++;
      operator = await startCounting();
    }
    const dm = await getResource(c, ns, name);
    const deployment = await c.apps
      .readNamespacedDeployment({ name: 'shop', namespace: ns })
      .catch(() => undefined);
    const settled =
      TERMINAL.has(dm.status?.phase ?? '') &&
      !dm.status?.scaledDown?.length &&
      (!deployment || (deployment.spec?.replicas ?? 0) > 0);
    if (settled) {
      // A failpoint right after a status write can fire after this poll read the final phase:
      // its marker is gone first, then the process dies. Wait for that death, then run on.
      if (kills === 0 && !existsSync(marker) && (await exitedWithin(operator, 10_000))) continue;
      return { kills, operator };
    }
    for (const job of await jobsOf(c, ns)) {
      const jobName = job.metadata?.name as string;
      if (finished.has(jobName) || job.status?.conditions?.length) continue;
      const step = job.metadata?.labels?.['dbmigrate.io/step'] as JobStep;
      const pods = await c.core.listNamespacedPod({
        namespace: ns,
        labelSelector: `batch.kubernetes.io/job-name=${jobName}`,
      });
      if (!pods.items[0]) continue;
      const res = resultFor(scenario, step);
      if (res === 'delete-pod') {
        // The Pod vanishes before anyone read its result: the Job fails with no message.
        await c.batch.patchNamespacedJob({
          name: jobName,
          namespace: ns,
          body: [{ op: 'replace', path: '/spec/activeDeadlineSeconds', value: 1 }],
        });
      } else {
        await finishJobPod(c, job, res);
      }
      finished.add(jobName);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

// One operator identity (ServiceAccount + the chart's RBAC) for every case of this file.
const system = uniqueName('fault-sys');
let identity: OperatorIdentity;

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, system);
  identity = await operatorIdentity(c, system, system);
});

afterAll(async () => {
  await deleteNamespace(c, system);
  writeReliabilityDoc();
});

describe('the operator killed at every point of a run', () => {
  const markers = mkdtempSync(path.join(tmpdir(), 'dbm-failpoints-'));

  it.each(CASES)('SIGKILL at $failpoint ($scenario run)', async ({ failpoint, scenario }) => {
    const ns = uniqueName('fault');
    await createNamespace(c, ns);
    let operator: RunningOperator | undefined;
    try {
      const marker = path.join(markers, failpoint.replace(/[^a-zA-Z0-9_-]/g, '_'));
      mkdirSync(markers, { recursive: true });
      writeFileSync(marker, '');
      const restore = scenario === 'restore';
      if (restore) await deploymentOf(ns, 2);
      const onFailure = scenario === 'success' ? 'none' : restore ? 'restore' : 'revert';
      await createResource(
        c,
        baseResource('shop', ns, `fault_${ns.slice(-6)}`, {
          migrations: { image: 'example/product-service:2', transactionMode: 'each' },
          onFailure,
          ...(restore ? { restoreWorkloads: [{ kind: 'Deployment', name: 'shop' }] } : {}),
        }),
      );
      const started = await drive(ns, 'shop', scenario, marker, () =>
        startOperator(identity, ns, `op-${ns.slice(-6)}`, {
          DBM_FAILPOINTS: failpoint,
          DBM_FAILPOINT_DIR: markers,
        }),
      );
      operator = started.operator;

      const dm = await getResource(c, ns, 'shop');
      const jobs = await jobsOf(c, ns);
      const perStep: Record<string, number> = {};
      for (const j of jobs) {
        const s = j.metadata?.labels?.['dbmigrate.io/step'] ?? '?';
        perStep[s] = (perStep[s] ?? 0) + 1;
      }
      const expected = EXPECTED[scenario];
      const replicas = restore
        ? (await c.apps.readNamespacedDeployment({ name: 'shop', namespace: ns })).spec?.replicas
        : undefined;
      recordReliability({
        fault: `operator SIGKILL at ${failpoint}`,
        run: scenario,
        injected: started.kills,
        outcome: dm.status?.phase ?? '(none)',
        jobsCreatedOnce:
          expected.steps.every((s) => perStep[s] === 1) && jobs.length === expected.steps.length,
        detail: restore ? `Deployment replicas 2 -> ${replicas}` : '',
      });

      expect(started.kills).toBe(1);
      expect(dm.status?.phase).toBe(expected.phase);
      expect(perStep).toEqual(Object.fromEntries(expected.steps.map((s) => [s, 1])));
      expect(dm.status?.scaledDown ?? []).toEqual([]);
      if (restore) expect(replicas).toBe(2);
      if (scenario === 'revert' || scenario === 'lost-result') {
        const revert = jobs.find((j) => j.metadata?.labels?.['dbmigrate.io/step'] === 'revert') as k8s.V1Job;
        // What this run applied, read by the revert Job from the database by the run's identity.
        const env = revert.spec?.template.spec?.containers[0]?.env ?? [];
        const author = env.find((e) => e.name === 'MIGRATION_AUTHOR')?.value;
        expect(author).toMatch(new RegExp(`^${ns}/`));
        expect(env).toContainEqual({ name: 'REVERT_APPLIED_BY', value: author });
        expect(dm.status?.revert?.migrations).toEqual([APPLIED[0]]);
      }
      if (scenario === 'lost-result') expect(dm.status?.history?.[0]?.message).toContain('Revert');
    } finally {
      await operator?.stop();
      await deleteNamespace(c, ns);
    }
  });
});

describe('the spec edited or the resource deleted mid-run', () => {
  async function untilJob(ns: string, step: JobStep): Promise<k8s.V1Job> {
    for (let i = 0; i < 300; i++) {
      const j = (await jobsOf(c, ns, step))[0];
      if (j) return j;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no ${step} Job in ${ns}`);
  }

  it("spec.database, migrations.image and onFailure edited during the migrate: the restore still targets the run's database", async () => {
    const ns = uniqueName('edit');
    await createNamespace(c, ns);
    const operator = await startOperator(identity, ns, `op-${ns.slice(-6)}`);
    try {
      await createResource(
        c,
        baseResource('shop', ns, 'orders', {
          migrations: { image: 'example/product-service:2', transactionMode: 'each' },
          onFailure: 'restore',
        }),
      );
      await finishJobPod(c, await untilJob(ns, 'check'), planResult());
      await finishJobPod(c, await untilJob(ns, 'backup'), backupResult());
      const migrate = await untilJob(ns, 'migrate');
      await c.custom.patchNamespacedCustomObject({
        group: 'dbmigrate.io',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'databasemigrations',
        name: 'shop',
        body: [
          { op: 'replace', path: '/spec/database/host', value: 'another-db.example' },
          { op: 'replace', path: '/spec/migrations/image', value: 'example/product-service:3' },
          { op: 'replace', path: '/spec/onFailure', value: 'none' },
        ],
      });
      await finishJobPod(c, migrate, failedMigrate());
      const restore = await untilJob(ns, 'restore');
      const env = restore.spec?.template.spec?.containers[0]?.env ?? [];
      expect(env).toContainEqual({ name: 'PGHOST', value: 'postgres.db.svc' });
      await finishJobPod(c, restore, result('restore'));
      // The run of generation 1 ends Restored; then the edited spec (generation 2) starts the next run.
      let phase = '';
      for (let i = 0; i < 150 && phase !== 'Restored'; i++) {
        const history = (await getResource(c, ns, 'shop')).status?.history ?? [];
        phase = history.find((h) => h.generation === 1)?.phase ?? '';
        await new Promise((r) => setTimeout(r, 200));
      }
      recordReliability({
        fault: 'spec.database, migrations.image, onFailure edited mid-migrate',
        run: 'restore',
        injected: 1,
        outcome: phase,
        jobsCreatedOnce:
          (await jobsOf(c, ns)).filter((j) => j.metadata?.labels?.['dbmigrate.io/generation'] === '1')
            .length === 4,
        detail: `restore Job PGHOST=${env.find((e) => e.name === 'PGHOST')?.value}`,
      });
      expect(phase).toBe('Restored');
    } finally {
      await operator.stop();
      await deleteNamespace(c, ns);
    }
  });

  it('a resource deleted mid-migrate is held until the migrate ends, then goes', async () => {
    const ns = uniqueName('del');
    await createNamespace(c, ns);
    const operator = await startOperator(identity, ns, `op-${ns.slice(-6)}`);
    try {
      await createResource(c, baseResource('shop', ns, 'orders'));
      await finishJobPod(c, await untilJob(ns, 'check'), planResult());
      await finishJobPod(c, await untilJob(ns, 'backup'), backupResult());
      const migrate = await untilJob(ns, 'migrate');
      await c.custom.deleteNamespacedCustomObject({
        group: 'dbmigrate.io',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'databasemigrations',
        name: 'shop',
      });
      await new Promise((r) => setTimeout(r, 3000));
      const held = await getResource(c, ns, 'shop');
      expect(held.metadata.deletionTimestamp).toBeTruthy();
      expect(held.status?.phase).toBe('Migrating');
      // The migrate Job was not garbage-collected under the running migration.
      expect((await jobsOf(c, ns, 'migrate')).length).toBe(1);
      await finishJobPod(c, migrate, migrateResult());
      let gone = false;
      for (let i = 0; i < 150 && !gone; i++) {
        gone = await getResource(c, ns, 'shop').then(
          () => false,
          () => true,
        );
        await new Promise((r) => setTimeout(r, 200));
      }
      recordReliability({
        fault: 'resource deleted mid-migrate',
        run: 'success',
        injected: 1,
        outcome: gone ? 'migrate finished, then deleted' : 'still held',
        jobsCreatedOnce: true,
      });
      expect(gone).toBe(true);
    } finally {
      await operator.stop();
      await deleteNamespace(c, ns);
    }
  });
});
