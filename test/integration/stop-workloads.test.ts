// stopWorkloads: beforeBackup against the real API server and controller-manager:
// the workload's replicas are recorded, it is scaled to zero and its Pods are
// gone before the backup Job exists, and it is back at its size when the run ends.
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
  startOperator,
  uniqueName,
  waitFor,
  waitForPhase,
  type RunningOperator,
} from './harness.js';

const c = clients();
const ns = uniqueName('it-stopwl');
const system = uniqueName('it-stopwl-sys');
let operator: RunningOperator;

// Terminating Pods count: they may still write.
const appPods = async () =>
  (await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=ledger' })).items;

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  operator = await startOperator(await operatorIdentity(c, system, system), ns, 'op-stopwl');
  await c.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'ledger-app' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'ledger' } },
        template: {
          metadata: { labels: { app: 'ledger' } },
          spec: {
            // No node runs these: their Pods exist (Pending) until the scale-down removes them.
            nodeSelector: { 'dbmigrate.io/integration-test': 'no-node-matches' },
            containers: [{ name: 'app', image: 'example/ledger:1' }],
          },
        },
      },
    },
  });
  await waitFor('the app to have its 2 Pods', async () => (await appPods()).length === 2);
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

it('beforeBackup: recorded, scaled to zero and Pods gone before the backup Job; back when the run ends', async () => {
  await createResource(
    c,
    baseResource('ledger', ns, 'ledger', {
      restoreWorkloads: [{ kind: 'Deployment', name: 'ledger-app' }],
      stopWorkloads: 'beforeBackup',
    }),
  );
  const check = await waitFor('check Job', async () => (await jobsOf(c, ns, 'check'))[0]);
  // Before the check ends nothing is stopped: a blocked plan must not stop the app.
  const before = await c.apps.readNamespacedDeployment({ name: 'ledger-app', namespace: ns });
  expect(before.spec?.replicas).toBe(2);
  await finishJobPod(c, check, planResult());

  const backup = await waitFor('backup Job', async () => (await jobsOf(c, ns, 'backup'))[0], 60_000);
  // By the time the backup Job exists, the app is at zero and none of its Pods is left.
  const scaled = await c.apps.readNamespacedDeployment({ name: 'ledger-app', namespace: ns });
  expect(scaled.spec?.replicas).toBe(0);
  expect(await appPods()).toEqual([]);
  const during = await getResource(c, ns, 'ledger');
  expect(during.status?.scaledDown).toEqual([{ kind: 'Deployment', name: 'ledger-app', replicas: 2 }]);
  expect(during.status?.run?.spec).toMatchObject({ stopWorkloads: 'beforeBackup' });

  await finishJobPod(c, backup, backupResult());
  const migrate = await waitFor('migrate Job', async () => (await jobsOf(c, ns, 'migrate'))[0]);
  await finishJobPod(c, migrate, migrateResult());
  await waitForPhase(c, ns, 'ledger', 'Succeeded');
  await waitFor('the app back at 2 replicas and the record dropped', async () => {
    const d = await c.apps.readNamespacedDeployment({ name: 'ledger-app', namespace: ns });
    const dm = await getResource(c, ns, 'ledger');
    return d.spec?.replicas === 2 && (dm.status?.scaledDown ?? []).length === 0;
  });
}, 180_000);
