// One run against the real API server: Jobs created in order, status, Events,
// kubectl wait, failures, garbage collection, invalid input.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCondition } from '../../operator/conditions.js';
import {
  auditedRequests,
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  driveToSuccess,
  ensureCrd,
  finishJobPod,
  getResource,
  jobsOf,
  kubectl,
  operatorIdentity,
  planResult,
  result,
  startOperator,
  uniqueName,
  waitFor,
  waitForJob,
  waitForPhase,
  type RunningOperator,
} from './harness.js';

const c = clients();
const ns = uniqueName('it-run');
const system = uniqueName('it-sys');
let operator: RunningOperator;
let operatorUser = '';

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  // The chart's default shape: a Role in the one namespace it watches (here ns).
  const identity = await operatorIdentity(c, system, system, [`watchNamespaces={${ns}}`]);
  operatorUser = `system:serviceaccount:${system}:${identity.serviceAccount}`;
  operator = await startOperator(identity, ns, 'op-run');
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

describe('a DatabaseMigration run against a real API server', () => {
  it('creates check, backup and migrate Jobs in order and ends Ready=True; kubectl wait returns', async () => {
    const runStart = new Date(Date.now() - 1000);
    await createResource(c, baseResource('shop', ns));
    const fresh = await getResource(c, ns, 'shop');
    // Before the operator writes anything kstatus must read "in progress".
    expect(typeof fresh.status?.observedGeneration).toBe('number');

    const check = await waitForJob(c, ns, 'check');
    expect((await jobsOf(c, ns)).map((j) => j.metadata?.labels?.['dbmigrate.io/step'])).toEqual(['check']);
    const checking = await getResource(c, ns, 'shop');
    expect([
      checking.status?.phase,
      getCondition(checking.status?.conditions, 'Reconciling')?.message,
    ]).toEqual(['Checking', expect.any(String)]);
    expect(getCondition(checking.status?.conditions, 'Reconciling')?.status).toBe('True');
    expect(checking.status?.observedGeneration).toBe(1);
    expect(check.metadata?.ownerReferences?.[0]?.name).toBe('shop');
    const podSpec = check.spec?.template.spec;
    expect(podSpec?.automountServiceAccountToken).toBe(false);
    expect(podSpec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);

    await driveToSuccess(c, ns);
    const done = await waitForPhase(c, ns, 'shop', 'Succeeded');
    expect(getCondition(done.status?.conditions, 'Ready')?.status).toBe('True');
    expect(getCondition(done.status?.conditions, 'Stalled')?.status).toBe('False');
    expect(done.status?.appliedCount).toBe(2);
    expect(done.status?.backup?.sha256).toBe('b'.repeat(64));
    expect(done.status?.applied?.map((m) => m.name)).toEqual([
      'AddProductAttributes1709123456789',
      'SeedProductCategories1709123456790',
    ]);
    expect(done.status?.history?.[0]?.phase).toBe('Succeeded');

    const cost = auditedRequests(operatorUser, runStart, new Date(Date.now() + 1000));
    if (cost) {
      // Figures, not a timing target: the closing note reports them.
      console.log(JSON.stringify({ metric: 'api_requests_per_run', ...cost }));
      expect(cost.total).toBeGreaterThan(0);
    } else if (process.env.DBM_USE_EXISTING_CLUSTER !== '1') {
      throw new Error('the local cluster has no audit log; restart it with test/cluster/up.sh');
    }

    const wait = kubectl(['wait', '--for=condition=Ready', `dbm/shop`, '-n', ns, '--timeout=30s']);
    expect(wait.stderr).toBe('');
    expect(wait.status).toBe(0);
    const printed = kubectl(['get', 'dbm', 'shop', '-n', ns]);
    expect(printed.stdout).toMatch(/READY\s+PHASE\s+APPLIED\s+PROGRESS\s+AGE/);
    expect(printed.stdout).toMatch(/True\s+Succeeded\s+2\s+2\/2 applied/);

    const events = await c.core.listNamespacedEvent({
      namespace: ns,
      fieldSelector: 'involvedObject.name=shop',
    });
    const reasons = events.items.map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'CheckStarted',
        'Checked',
        'BackupStarted',
        'BackedUp',
        'MigrateStarted',
        'MigrationsApplied',
        'Succeeded',
      ]),
    );
  });

  it('a second sync of the same spec (kubectl apply, then server-side apply) starts no run and creates no Job', async () => {
    const before = await getResource(c, ns, 'shop');
    expect(before.status?.phase).toBe('Succeeded');
    const jobsBefore = (await jobsOf(c, ns)).map((j) => j.metadata?.name).sort();
    const dir = mkdtempSync(join(tmpdir(), 'dbm-sync-'));
    const file = join(dir, 'shop.json');
    // What a GitOps tool applies again: the same spec, with its own labels and annotations.
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: before.apiVersion,
        kind: before.kind,
        metadata: {
          name: 'shop',
          namespace: ns,
          labels: { 'app.kubernetes.io/instance': 'shop-sync' },
          annotations: { 'argocd.argoproj.io/sync-wave': '-1' },
        },
        spec: before.spec,
      }),
    );
    for (const args of [
      ['apply', '-f', file],
      ['apply', '--server-side', '--force-conflicts', '--field-manager', 'argocd-controller', '-f', file],
    ]) {
      const r = kubectl(args);
      // stderr may carry kubectl's note that it adds its last-applied annotation.
      expect({ status: r.status, stdout: r.stdout }).toEqual({
        status: 0,
        stdout: expect.stringContaining('shop'),
      });
    }
    rmSync(dir, { recursive: true, force: true });
    // The operator reacts to a watch event within a second; give it several.
    await new Promise((r) => setTimeout(r, 8000));
    const after = await getResource(c, ns, 'shop');
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect({
      phase: after.status?.phase,
      attempt: after.status?.attempt,
      runs: after.status?.history?.length,
    }).toEqual({
      phase: 'Succeeded',
      attempt: before.status?.attempt,
      runs: before.status?.history?.length,
    });
    expect((await jobsOf(c, ns)).map((j) => j.metadata?.name).sort()).toEqual(jobsBefore);
  });

  it('a failed Job gives phase Failed with its error in status and a Warning Event', async () => {
    await createResource(c, baseResource('broken', ns, 'broken'));
    // This namespace also holds the previous test's Jobs: wait for the one this resource owns.
    const checkJob = await waitFor('check job of broken', async () =>
      (await jobsOf(c, ns, 'check')).find((j) => j.metadata?.ownerReferences?.[0]?.name === 'broken'),
    );
    await finishJobPod(c, checkJob, planResult());
    const backup = await waitFor('backup job of broken', async () =>
      (await jobsOf(c, ns, 'backup')).find((j) => j.metadata?.ownerReferences?.[0]?.name === 'broken'),
    );
    await finishJobPod(
      c,
      backup,
      result('backup', {
        backup: { path: '/b', format: 'custom', sizeBytes: 1, sha256: 'c'.repeat(64), verified: true },
      }),
    );
    const migrate = await waitFor('migrate job of broken', async () =>
      (await jobsOf(c, ns, 'migrate')).find((j) => j.metadata?.ownerReferences?.[0]?.name === 'broken'),
    );
    await finishJobPod(
      c,
      migrate,
      result('migrate', {
        ok: false,
        error: {
          message: 'column "attributes" of relation "product_variants" already exists',
          code: '42701',
          migration: 'AddProductAttributes1709123456789',
        },
        migrations: [],
      }),
    );
    const failed = await waitForPhase(c, ns, 'broken', 'Failed');
    expect(failed.status?.lastError).toMatchObject({
      step: 'migrate',
      code: '42701',
      migration: 'AddProductAttributes1709123456789',
    });
    const stalled = getCondition(failed.status?.conditions, 'Stalled');
    expect(stalled?.status).toBe('True');
    expect(stalled?.message).toContain('already exists');
    const warning = await waitFor('a Warning event', async () => {
      const events = await c.core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: 'involvedObject.name=broken,type=Warning',
      });
      return events.items.find((e) => e.message?.includes('already exists'));
    });
    expect(warning.reason).toBe('MigrationFailed');
    const wait = kubectl(['wait', '--for=condition=Ready', 'dbm/broken', '-n', ns, '--timeout=3s']);
    expect(wait.status).not.toBe(0);
  });

  it('retries a failed run when the retry annotation changes, with a new Job', async () => {
    const before = await getResource(c, ns, 'broken');
    expect(before.status?.phase).toBe('Failed');
    const annotate = kubectl(['annotate', 'dbm/broken', '-n', ns, 'dbmigrate.io/retry=1']);
    expect(annotate.status).toBe(0);
    const retried = await waitFor('attempt 2', async () => {
      const dm = await getResource(c, ns, 'broken');
      return dm.status?.attempt === 2 && dm.status.phase === 'Checking' ? dm : undefined;
    });
    expect(retried.status?.observedGeneration).toBe(1);
    // The status is written before the Job is created (intent first): wait for the Job.
    const checks = await waitFor('the second check Job', async () => {
      const mine = (await jobsOf(c, ns, 'check')).filter(
        (j) => j.metadata?.ownerReferences?.[0]?.name === 'broken',
      );
      return mine.length >= 2 ? mine : undefined;
    });
    expect(checks).toHaveLength(2);
  });

  it('rejects invalid resources at the API server (schema and CEL)', async () => {
    const both = baseResource('both', ns, 'x', { migrations: { image: 'a:1', configMapRef: { name: 'm' } } });
    await expect(createResource(c, both)).rejects.toMatchObject({
      body: expect.stringContaining('set exactly one of migrations.image and migrations.configMapRef'),
    });
    const inlinePassword = baseResource('pw', ns, 'x');
    (inlinePassword.spec as { database: Record<string, unknown> }).database = {
      host: 'h',
      database: 'd',
      user: 'u',
      password: 'hunter2',
    };
    await expect(createResource(c, inlinePassword)).rejects.toMatchObject({
      body: expect.stringContaining('passwordSecretRef'),
    });
    const restoreNoBackup = baseResource('rnb', ns, 'x', {
      onFailure: 'restore',
      backup: { enabled: false },
    });
    await expect(createResource(c, restoreNoBackup)).rejects.toMatchObject({
      body: expect.stringContaining('onFailure: restore needs backup.enabled'),
    });
  });

  it('stalls a resource only the operator can reject, naming the field', async () => {
    await createResource(
      c,
      baseResource('badqty', ns, 'q', { jobTemplate: { resources: { limits: { memory: 'lots' } } } }),
    );
    const failed = await waitForPhase(c, ns, 'badqty', 'Failed');
    const stalled = getCondition(failed.status?.conditions, 'Stalled');
    expect(stalled?.status).toBe('True');
    expect(stalled?.reason).toBe('InvalidSpec');
    expect(stalled?.message).toContain('spec.jobTemplate.resources.limits.memory');
    expect(
      (await jobsOf(c, ns)).filter((j) => j.metadata?.ownerReferences?.[0]?.name === 'badqty'),
    ).toHaveLength(0);
  });

  it('deleting the resource garbage-collects its Jobs', async () => {
    await createResource(c, baseResource('doomed', ns, 'doomed'));
    await waitFor('doomed check job', async () =>
      (await jobsOf(c, ns, 'check')).find((j) => j.metadata?.ownerReferences?.[0]?.name === 'doomed'),
    );
    await c.custom.deleteNamespacedCustomObject({
      group: 'dbmigrate.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'databasemigrations',
      name: 'doomed',
    });
    await waitFor('doomed jobs to be collected', async () =>
      (await jobsOf(c, ns)).every((j) => j.metadata?.ownerReferences?.[0]?.name !== 'doomed'),
    );
  });

  it('never needs Secret access: the operator runs with the chart RBAC, which has none', async () => {
    const review = kubectl([
      'auth',
      'can-i',
      'get',
      'secrets',
      '-n',
      ns,
      `--as=system:serviceaccount:${system}:${system}-database-migration-operator`,
    ]);
    expect(review.stdout.trim()).toBe('no');
    const list = kubectl([
      'auth',
      'can-i',
      'list',
      'secrets',
      '--all-namespaces',
      `--as=system:serviceaccount:${system}:${system}-database-migration-operator`,
    ]);
    expect(list.stdout.trim()).toBe('no');
    expect(operator.logs()).not.toMatch(/forbidden/i);
  });

  it('has only the verbs its code calls, in the namespace it watches only (operator/rbac-needs.ts)', () => {
    const can = (...args: string[]) =>
      kubectl(['auth', 'can-i', ...args, `--as=${operatorUser}`]).stdout.trim();
    // Outside the watched namespace: nothing.
    expect(can('get', 'configmaps', '-n', 'kube-system')).toBe('no');
    expect(can('update', 'configmaps', '-n', 'kube-system')).toBe('no');
    expect(can('get', 'pods', '--subresource=log', '-n', 'kube-system')).toBe('no');
    expect(can('list', 'jobs.batch', '--all-namespaces')).toBe('no');
    // Inside: what the code calls, and not what it never calls.
    expect(can('update', 'configmaps', '-n', ns)).toBe('yes');
    expect(can('get', 'pods', '--subresource=log', '-n', ns)).toBe('yes');
    expect(can('update', 'deployments.apps', '--subresource=scale', '-n', ns)).toBe('yes');
    expect(can('patch', 'deployments.apps', '-n', ns)).toBe('no');
    expect(can('update', 'deployments.apps', '-n', ns)).toBe('no');
    expect(can('delete', 'configmaps', '-n', ns)).toBe('no');
    expect(can('get', 'databasemigrations.dbmigrate.io', '--subresource=status', '-n', ns)).toBe('no');
  });
});
