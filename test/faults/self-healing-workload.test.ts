// A workload that something keeps scaling back (an HPA, KEDA, a GitOps
// self-heal) while a run waits for its Pods to be gone: the wait is bounded by
// spec.stopWorkloadsTimeoutSeconds, then the run ends Failed and Stalled naming
// the workload and who scaled it back; no backup or migrate ran.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  ensureCrd,
  finishJobPod,
  jobsOf,
  operatorIdentity,
  planResult,
  startOperator,
  uniqueName,
  waitForPhase,
  waitFor,
  type RunningOperator,
} from '../integration/harness.js';
import { recordReliability, writeReliabilityDoc } from './reliability-report.js';

const c = clients();
const ns = uniqueName('flt-heal');
const system = uniqueName('flt-heal-sys');
let operator: RunningOperator;

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  operator = await startOperator(await operatorIdentity(c, system, system), ns, 'op-heal');
}, 120_000);

afterAll(async () => {
  writeReliabilityDoc();
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

it('a workload that something keeps scaling back (a self-healing GitOps sync): the wait is bounded, Failed and Stalled naming who', async () => {
  await c.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'healed-app' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'healed' } },
        template: {
          // A finalizer keeps each Pod (Terminating) until the test lets it go: the app never
          // reaches zero Pods, as when something scales it back faster than Pods are deleted.
          metadata: { labels: { app: 'healed' }, finalizers: ['dbmigrate.io/integration-test-hold'] },
          spec: {
            nodeSelector: { 'dbmigrate.io/integration-test': 'no-node-matches' },
            containers: [{ name: 'app', image: 'example/healed:1' }],
          },
        },
      },
    },
  });
  // The "self-heal": every second, replicas back to 1, under its own field manager.
  let healing = true;
  const healer = (async () => {
    while (healing) {
      await c.apps
        .patchNamespacedDeploymentScale(
          {
            name: 'healed-app',
            namespace: ns,
            body: { spec: { replicas: 1 } },
            fieldManager: 'gitops-self-heal',
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    await createResource(
      c,
      baseResource('healed', ns, 'healed', {
        restoreWorkloads: [{ kind: 'Deployment', name: 'healed-app' }],
        stopWorkloads: 'beforeBackup',
        stopWorkloadsTimeoutSeconds: 10,
      }),
    );
    const check = await waitFor('check Job', async () =>
      (await jobsOf(c, ns, 'check')).find((j) => j.metadata?.labels?.['dbmigrate.io/name'] === 'healed'),
    );
    await finishJobPod(c, check, planResult());
    const dm = await waitForPhase(c, ns, 'healed', 'Failed', 90_000);
    expect(dm.status?.conditions?.find((x) => x.type === 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'WorkloadsDidNotStop',
    });
    expect(dm.status?.lastError?.message).toMatch(
      /^Deployment\/healed-app still had \d+ Pod\(s\) 10 s after being scaled to zero; scaled back by (gitops-self-heal \(Deployment\/healed-app\)|another controller \(Deployment\/healed-app back at 1 replica\(s\)\))/,
    );
    // No backup ran, and the database lock is released for the next run.
    expect(
      (await jobsOf(c, ns, 'backup')).filter((j) => j.metadata?.labels?.['dbmigrate.io/name'] === 'healed'),
    ).toEqual([]);
    recordReliability({
      fault: 'a workload scaled back every second while the run waits for its Pods (GitOps self-heal)',
      run: 'stopWorkloads beforeBackup, timeout 10 s',
      injected: 1,
      outcome: `Failed, Stalled WorkloadsDidNotStop after 10 s: ${dm.status?.lastError?.message ?? ''}`,
      rowsLost: 0,
      detail: 'no backup or migrate Job was created: the database was not touched',
    });
  } finally {
    healing = false;
    await healer;
    await c.apps.deleteNamespacedDeployment({ name: 'healed-app', namespace: ns }).catch(() => undefined);
    for (const p of (await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=healed' })).items)
      await c.core
        .patchNamespacedPod(
          { name: p.metadata!.name!, namespace: ns, body: { metadata: { finalizers: null } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )
        .catch(() => undefined);
  }
}, 180_000);
