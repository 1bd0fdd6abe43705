// A real Prometheus (Debian's package) scrapes a real operator process that has
// done runs against the real API server; every PromQL expression of the
// dashboard and of the alert rules must be valid, name only series and labels
// that exist, and (for the dashboard) return data.
import { RULES_FILE } from '../chart/tools.js';
import { checkExpression, JOB, panelExprs, ruleExprs, rules } from '../observability/expressions.js';
import { startPrometheus, type RunningPrometheus } from '../observability/prometheus.js';
import {
  backupResult,
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  driveToSuccess,
  ensureCrd,
  finishJobPod,
  operatorIdentity,
  planResult,
  result,
  startOperator,
  uniqueName,
  waitFor,
  waitForPhase,
  jobsOf,
  type RunningOperator,
} from './harness.js';

const c = clients();
const ns = uniqueName('it-prom');
const system = uniqueName('it-prom-sys');
let operator: RunningOperator;
let prom: RunningPrometheus;

const jobOf = (owner: string, step: 'check' | 'backup' | 'migrate' | 'restore') =>
  waitFor(`${owner} ${step} Job`, async () =>
    (await jobsOf(c, ns, step)).find((j) => j.metadata?.ownerReferences?.[0]?.name === owner),
  );

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  const identity = await operatorIdentity(c, system, system);
  operator = await startOperator(identity, ns, 'op-prom');
  prom = await startPrometheus({
    targets: [`127.0.0.1:${operator.port}`],
    job: JOB,
    labels: { namespace: system, pod: 'op-prom' },
    ruleFiles: [RULES_FILE],
  });

  // A run that succeeds.
  await createResource(c, baseResource('orders', ns, 'orders'));
  await driveToSuccess(c, ns);
  await waitForPhase(c, ns, 'orders', 'Succeeded');

  // A run that fails and is restored from its backup, with a workload scaled down and back.
  await c.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'billing-app' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'billing' } },
        template: {
          metadata: { labels: { app: 'billing' } },
          spec: {
            nodeSelector: { 'dbmigrate.io/integration-test': 'no-node-matches' },
            containers: [{ name: 'app', image: 'example/billing:1' }],
          },
        },
      },
    },
  });
  await createResource(
    c,
    baseResource('billing', ns, 'billing', {
      migrations: { image: 'example/product-service:2', transactionMode: 'each' },
      onFailure: 'restore',
      restoreWorkloads: [{ kind: 'Deployment', name: 'billing-app' }],
    }),
  );
  await finishJobPod(c, await jobOf('billing', 'check'), planResult());
  await finishJobPod(c, await jobOf('billing', 'backup'), backupResult());
  await finishJobPod(
    c,
    await jobOf('billing', 'migrate'),
    // The first migration committed (transactionMode each), the second failed: changes remain, so a restore.
    result('migrate', {
      ok: false,
      error: { message: 'deadlock detected', code: '40P01', migration: 'SeedProductCategories1709123456790' },
      migrations: [
        { name: 'AddProductAttributes1709123456789', durationMs: 40, outcome: 'applied' },
        { name: 'SeedProductCategories1709123456790', durationMs: 5, outcome: 'failed' },
      ],
    }),
  );
  await waitForPhase(c, ns, 'billing', 'Restoring');
  // Recorded first, then scaled: the scale-down follows the status write.
  await waitFor('billing-app scaled to zero', async () => {
    const d = await c.apps.readNamespacedDeployment({ name: 'billing-app', namespace: ns });
    return d.spec?.replicas === 0;
  });
  // The phase series is the current phase only, and the held-down count exists only while
  // workloads are down: let Prometheus see this state before it ends.
  await prom.waitForScrapes(2);
  await finishJobPod(c, await jobOf('billing', 'restore'), result('restore'));
  await waitForPhase(c, ns, 'billing', 'Restored');
  // Scaled back by the reconcile after the one that wrote Restored (the record goes once it is done).
  await waitFor('billing-app scaled back to 2', async () => {
    const d = await c.apps.readNamespacedDeployment({ name: 'billing-app', namespace: ns });
    return d.spec?.replicas === 2;
  });

  // A plan blocked on an approval (the rules look for phase="Blocked").
  await createResource(c, baseResource('risky', ns, 'risky'));
  await finishJobPod(
    c,
    await jobOf('risky', 'check'),
    result('check', {
      plan: {
        pending: ['DropLegacy1709123456790'],
        hash: 'd'.repeat(64),
        findings: [
          {
            rule: 'drop-column',
            category: 'destructive',
            severity: 'error',
            migration: 'DropLegacy1709123456790',
            message: 'drops a column',
          },
        ],
        notCaptured: [],
      },
    }),
  );
  await waitForPhase(c, ns, 'risky', 'Blocked');

  // A migrate step running with its rehearsal's ETA (the slower-than-rehearsal alert's series).
  await createResource(c, baseResource('slow', ns, 'slow'));
  const rehearsed = planResult();
  const pending = rehearsed.plan?.pending ?? [];
  await finishJobPod(
    c,
    await jobOf('slow', 'check'),
    result('check', {
      plan: {
        ...rehearsed.plan!,
        rehearsal: {
          onData: true,
          sizeBytes: 1,
          durationsMs: Object.fromEntries(pending.map((n) => [n, 100])),
          totalMs: 100 * pending.length,
        },
      },
    }),
  );
  await finishJobPod(c, await jobOf('slow', 'backup'), backupResult());
  await waitForPhase(c, ns, 'slow', 'Migrating');

  // A run still going when the queries run.
  await createResource(c, baseResource('catalog', ns, 'catalog'));
  await waitForPhase(c, ns, 'catalog', 'Checking');
  await prom.waitForScrapes(3);
}, 300_000);

afterAll(async () => {
  await prom?.stop();
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

describe('PromQL of the dashboard and alerts against a real operator', () => {
  it.each(panelExprs.map((e) => [e.where, e.expr] as const))(
    '%s is valid, names existing series and returns data',
    async (_, expr) => {
      const { problems, result: data } = await checkExpression(prom, expr);
      expect(problems).toEqual([]);
      expect(data.length).toBeGreaterThan(0);
    },
  );

  it.each(ruleExprs.map((e) => [e.where, e.expr] as const))(
    '%s is valid and names existing series',
    async (_, expr) => {
      const { problems } = await checkExpression(prom, expr);
      expect(problems).toEqual([]);
    },
  );

  it('evaluates every alert rule without errors, and fires for the restored run only', async () => {
    const loaded = await prom.rules();
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert ?? r.record).sort());
    for (const r of loaded)
      expect({ name: r.name, health: r.health }).toEqual({ name: r.name, health: 'ok' });
    const firing = await waitFor(
      'DatabaseMigrationFailed to fire',
      async () => {
        const r = await prom.query('ALERTS{alertname="DatabaseMigrationFailed"}');
        const names = [
          ...new Set((r.data?.result ?? []).map((s) => `${s.metric.namespace}/${s.metric.name}`)),
        ];
        return names.length ? names : undefined;
      },
      60_000,
      1000,
    );
    expect(firing).toEqual([`${ns}/billing`]);
  });
});
