// `kubectl dbm` against the real API server and the operator (with the chart's
// RBAC), run as a user would run it: the npm bin as a child process, stdin a
// pipe (not a terminal). The test plays the kubelet (harness.finishJobPod), so
// the plan ConfigMap holds the result cut from the termination message.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { JobResult } from '../../crds/job-result.js';
import {
  ROOT,
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
  result,
  startOperator,
  uniqueName,
  waitFor,
  waitForPhase,
  type RunningOperator,
} from './harness.js';

const c = clients();
const ns = uniqueName('it-dbmcli');
const system = uniqueName('it-dbmcli-sys');
let operator: RunningOperator;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/kubectl-dbm.js with the admin kubeconfig; stdin is an (empty) pipe. */
function dbm(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/node'), [join(ROOT, 'bin/kubectl-dbm.js'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', KUBECONFIG: process.env.KUBECONFIG ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end();
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const HASH = 'e'.repeat(64);
const PENDING = ['AddSku1709123456789', 'DropLegacyCode1709123456790'];
const blockedPlan = (): JobResult =>
  result('check', {
    plan: {
      pending: PENDING,
      hash: HASH,
      findings: [
        {
          rule: 'drop-column',
          category: 'destructive',
          severity: 'error',
          migration: PENDING[1]!,
          message: 'drops column products.legacy_code',
          hint: 'stop reading the column in one release, drop it in the next',
          statement: 0,
        },
      ],
      notCaptured: [],
      revertFindings: [
        {
          rule: 'drop-column',
          category: 'destructive',
          severity: 'error',
          migration: PENDING[0]!,
          message: 'the down() drops column products.sku',
        },
      ],
      checksums: { [PENDING[0]!]: 'a'.repeat(64), [PENDING[1]!]: 'b'.repeat(64) },
      shadow: {
        targetVersion: '16.4',
        shadowMajor: 18,
        schemaErrors: [],
        schemaErrorCount: 0,
        statementsTraced: 5,
        reversibility: 'proven',
        durationMs: 2300,
      },
    },
    totals: { pending: 2, findings: 1, blocking: 1 },
  });

async function jobOf(step: string, generation: number, attempt = 1): Promise<k8s.V1Job> {
  return waitFor(`the ${step} Job of run ${generation}.${attempt}`, async () =>
    (await jobsOf(c, ns)).find(
      (j) =>
        j.metadata?.labels?.['dbmigrate.io/step'] === step &&
        j.metadata.labels['dbmigrate.io/generation'] === String(generation) &&
        j.metadata.labels['dbmigrate.io/attempt'] === String(attempt),
    ),
  );
}

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  operator = await startOperator(await operatorIdentity(c, system, system), ns, 'op-dbmcli');
  await createResource(c, baseResource('orders', ns, 'orders', { backup: { enabled: false } }));
  await finishJobPod(c, await jobOf('check', 1), blockedPlan());
  await waitForPhase(c, ns, 'orders', 'Blocked');
}, 180_000);

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

it('status: a table and -o json|yaml of the resources of a namespace, or of one', async () => {
  const table = await dbm(['status', '-n', ns]);
  expect(table).toMatchObject({ code: 0, stderr: '' });
  const [head, row] = table.stdout.split('\n');
  expect(head).toMatch(/^NAME\s+READY\s+PHASE\s+APPLIED\s+BLOCKING\s+PROGRESS\s+REASON\s+AGE$/);
  expect(row).toMatch(/^orders\s+False\s+Blocked\s+<none>\s+1\s+<none>\s+PlanBlocked\s+\d+s$/);

  const one = await dbm(['status', 'orders', '-n', ns, '-o', 'json']);
  expect(JSON.parse(one.stdout)).toMatchObject({
    namespace: ns,
    name: 'orders',
    phase: 'Blocked',
    blocking: 1,
  });
  const yaml = await dbm(['status', `--namespace=${ns}`, '-o', 'yaml']);
  expect(yaml.stdout).toContain('phase: Blocked');

  const missing = await dbm(['status', 'nothing', '-n', ns]);
  expect(missing).toMatchObject({
    code: 1,
    stderr: `error: databasemigration "nothing" not found in namespace "${ns}"\n`,
  });
}, 120_000);

it('takes the namespace from --context of --kubeconfig, as kubectl does', async () => {
  const kc = c.kc;
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const other = new k8s.KubeConfig();
  other.loadFromOptions({
    clusters: [cluster],
    users: [user],
    contexts: [
      { name: 'elsewhere', cluster: cluster.name, user: user.name, namespace: 'default' },
      { name: 'orders-team', cluster: cluster.name, user: user.name, namespace: ns },
    ],
    currentContext: 'elsewhere',
  });
  const dir = join(ROOT, '.tmp', 'kubeconfigs');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${ns}-plugin.yaml`);
  writeFileSync(path, other.exportConfig(), { mode: 0o600 });

  const viaContext = await dbm(['status', '--kubeconfig', path, '--context', 'orders-team', '-o', 'json'], {
    KUBECONFIG: '/nonexistent',
  });
  expect(viaContext.code).toBe(0);
  expect((JSON.parse(viaContext.stdout) as { name: string }[]).map((r) => r.name)).toEqual(['orders']);
  const unknown = await dbm(['status', '--kubeconfig', path, '--context', 'nope']);
  expect(unknown).toMatchObject({ code: 1, stderr: 'error: context "nope" is not in the kubeconfig\n' });
}, 120_000);

it('plan: pending migrations with checksums, blocking findings, revert findings and the shadow trace', async () => {
  const text = await dbm(['plan', 'orders', '-n', ns]);
  expect(text.code).toBe(0);
  expect(text.stdout).toContain(`Plan of ${ns}/orders (run 1.1): phase Blocked`);
  expect(text.stdout).toContain(`Hash: ${HASH}`);
  expect(text.stdout).toContain(`  ${PENDING[0]}  sha256:${'a'.repeat(16)}`);
  expect(text.stdout).toContain(
    `  BLOCKING [error] destructive/drop-column in ${PENDING[1]} (statement 0): drops column products.legacy_code`,
  );
  expect(text.stdout).toContain('Revert findings (what a revert would do; never blocking) (1):');
  expect(text.stdout).toContain(
    'Shadow trace: 5 statements traced on PostgreSQL 18 (target 16.4) in 2.3s; reversibility proven',
  );
  // No kubelet here, so the operator kept the cut result and said so; the plugin passes the note on.
  expect(text.stdout).toMatch(/Note: The full result could not be read/);

  const json = JSON.parse((await dbm(['plan', 'orders', '-n', ns, '-o', 'json'])).stdout) as {
    hash: string;
    configMap: string;
    plan: { pending: string[] };
    blocking: { rule: string }[];
  };
  expect(json).toMatchObject({ hash: HASH, configMap: 'orders-plan', plan: { pending: PENDING } });
  expect(json.blocking.map((f) => f.rule)).toEqual(['drop-column']);
}, 120_000);

it('approve: refuses without --yes when stdin is not a terminal; with it, sets the approval and the run goes on', async () => {
  const refused = await dbm(['approve', 'orders', '-n', ns]);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toContain('BLOCKING [error] destructive/drop-column'); // the plan is shown first
  expect(refused.stderr).toContain('stdin is not a terminal, so nobody can confirm: pass --yes to approve');
  expect((await getResource(c, ns, 'orders')).spec.safety?.approval).toBeUndefined();

  const approved = await dbm(['approve', 'orders', '-n', ns, '--yes']);
  expect(approved.code).toBe(0);
  expect(approved.stdout).toContain(
    `databasemigration/orders approved: spec.safety.approval=${HASH} (generation 2`,
  );
  const dm = await getResource(c, ns, 'orders');
  expect(dm.spec.safety?.approval).toBe(HASH);
  // The operator checks again; the same plan now passes and the migration runs.
  await finishJobPod(c, await jobOf('check', 2), blockedPlan());
  await finishJobPod(c, await jobOf('migrate', 2), migrateResult());
  await waitForPhase(c, ns, 'orders', 'Succeeded');

  const again = await dbm(['approve', 'orders', '-n', ns, '--yes']);
  expect(again.code).toBe(0);
  expect(again.stderr).toContain('this plan is already approved');
}, 180_000);

it('history: the runs and the migrations the last one applied', async () => {
  const text = await dbm(['history', 'orders', '-n', ns]);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/\n1\.1\s+Blocked\s/);
  expect(text.stdout).toMatch(/\n2\.1\s+Succeeded\s/);
  expect(text.stdout).toContain('Migrations of the last run (2.1):');
  for (const m of migrateResult().migrations!)
    expect(text.stdout).toMatch(new RegExp(`\\n${m.name}\\s+applied\\s`));
  const json = JSON.parse((await dbm(['history', 'orders', '-n', ns, '-o', 'json'])).stdout) as {
    runs: { phase: string }[];
    applied: { run: string; problem?: string };
  };
  expect(json.runs.map((r) => r.phase)).toEqual(['Blocked', 'Succeeded']);
  expect(json.applied).toEqual(expect.objectContaining({ run: '2.1' }));
  expect(json.applied.problem).toBeUndefined();
}, 120_000);

it('logs: finds the Pod of the latest run of the step (here unscheduled, so the API server has no log)', async () => {
  const migrate = await jobOf('migrate', 2);
  const pods = await c.core.listNamespacedPod({
    namespace: ns,
    labelSelector: `batch.kubernetes.io/job-name=${migrate.metadata!.name}`,
  });
  const pod = pods.items[0]!.metadata!.name!;
  const out = await dbm(['logs', 'orders', '-n', ns, '--step', 'migrate']);
  expect(out.stderr).toContain(`# Job ${migrate.metadata!.name}, Pod ${pod} (run 2.1, step migrate)`);
  expect(out.code).toBe(1);
  expect(out.stderr).toContain(`error: the log of Pod ${pod} cannot be read`);
  // Without --step: the newest Job of the latest run, the migrate Job (after the check of run 2).
  expect((await dbm(['logs', 'orders', '-n', ns])).stderr).toContain(`# Job ${migrate.metadata!.name},`);
  const none = await dbm(['logs', 'orders', '-n', ns, '--step', 'restore']);
  expect(none).toMatchObject({ code: 1 });
  expect(none.stderr).toContain(`error: no restore Job of ${ns}/orders`);
}, 120_000);

it('retry: annotates a finished resource and the operator starts the next attempt', async () => {
  const out = await dbm(['retry', 'orders', '-n', ns]);
  expect(out.code).toBe(0);
  const token = /dbmigrate\.io\/retry=(\S+)/.exec(out.stdout)?.[1];
  expect(token).toBeDefined();
  const dm = await getResource(c, ns, 'orders');
  expect(dm.metadata.annotations?.['dbmigrate.io/retry']).toBe(token);
  await jobOf('check', 2, 2); // attempt 2 of generation 2
  await waitFor('the operator to answer the retry', async () => {
    const s = (await getResource(c, ns, 'orders')).status;
    return s?.retryToken === token && s?.attempt === 2;
  });
  // During a run the annotation would queue another attempt nobody asked for yet: refused.
  const during = await dbm(['retry', 'orders', '-n', ns]);
  expect(during.code).toBe(1);
  expect(during.stderr).toContain('is Checking: a retry applies to a run that has ended');
  await finishJobPod(
    c,
    await jobOf('check', 2, 2),
    result('check', { plan: { pending: [], hash: 'f'.repeat(64), findings: [], notCaptured: [] } }),
  );
  await waitForPhase(c, ns, 'orders', 'Succeeded');
}, 180_000);

it('rollback: needs --yes without a terminal, then sets exactly one of steps and toMigration', async () => {
  const refused = await dbm(['rollback', 'orders', '-n', ns, '--steps', '1']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('pass --yes to rollback without asking');
  expect((await getResource(c, ns, 'orders')).spec.rollback).toBeUndefined();

  const steps = await dbm(['rollback', 'orders', '-n', ns, '--steps', '1', '--yes']);
  expect(steps.code).toBe(0);
  expect(steps.stdout).toContain('spec.rollback set to revert the last 1 applied migration(s)');
  expect((await getResource(c, ns, 'orders')).spec.rollback).toEqual({ steps: 1 });
  // backup is disabled: the operator starts the revert right away.
  const revert = await jobOf('revert', 3);
  expect(revert.metadata?.name).toBeDefined();

  // Switching to --to removes steps (the CRD's rule would refuse both).
  const to = await dbm(['rollback', 'orders', '-n', ns, '--to', PENDING[0]!, '--yes', '-o', 'json']);
  expect(to.code).toBe(0);
  expect(JSON.parse(to.stdout)).toMatchObject({ rollback: { toMigration: PENDING[0] } });
  expect((await getResource(c, ns, 'orders')).spec.rollback).toEqual({ toMigration: PENDING[0] });
}, 180_000);
