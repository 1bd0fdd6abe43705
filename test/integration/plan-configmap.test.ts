// The plan ConfigMap against the real API server, with the chart's RBAC: after
// the check and the migrate Jobs the operator writes <resource>-plan, owned by
// the resource. Here the test plays the kubelet, so no Pod has a log: the
// ConfigMap must then hold the cut result and say why (an RBAC refusal would
// show there as "forbidden").
import {
  backupResult,
  baseResource,
  createResource,
  finishJobPod,
  getResource,
  jobsOf,
  migrateResult,
  planResult,
  operatorSuite,
  waitFor,
  waitForPhase,
} from './harness.js';

const { c, ns } = operatorSuite('it-plancm', 'op-plancm');

it('writes <resource>-plan after the check and the migrate, owned by the resource, named in status.plan', async () => {
  const created = await createResource(c, baseResource('orders', ns, 'orders'));
  const check = await waitFor('check Job', async () => (await jobsOf(c, ns, 'check'))[0]);
  await finishJobPod(c, check, planResult());
  const cmAfterCheck = await waitFor('the plan ConfigMap', () =>
    c.core.readNamespacedConfigMap({ name: 'orders-plan', namespace: ns }).catch(() => undefined),
  );
  expect(cmAfterCheck.metadata?.ownerReferences?.[0]).toMatchObject({
    kind: 'DatabaseMigration',
    name: 'orders',
    uid: created.metadata.uid,
  });
  const plan = JSON.parse(cmAfterCheck.data?.['plan.json'] ?? 'null') as { plan?: { pending: string[] } };
  expect(plan.plan?.pending).toEqual(planResult().plan?.pending);
  expect(cmAfterCheck.data?.['check.note']).toMatch(
    /^The full result could not be read \(the log could not be read/,
  );
  expect(cmAfterCheck.data?.['check.note']).not.toMatch(/forbidden/i);
  expect((await getResource(c, ns, 'orders')).status?.plan?.configMap).toBe('orders-plan');

  await finishJobPod(
    c,
    await waitFor('backup Job', async () => (await jobsOf(c, ns, 'backup'))[0]),
    backupResult(),
  );
  await finishJobPod(
    c,
    await waitFor('migrate Job', async () => (await jobsOf(c, ns, 'migrate'))[0]),
    migrateResult(),
  );
  await waitForPhase(c, ns, 'orders', 'Succeeded');
  const cm = await waitFor('the applied list in the plan ConfigMap', async () => {
    const m = await c.core.readNamespacedConfigMap({ name: 'orders-plan', namespace: ns });
    return m.data?.['applied.json'] ? m : undefined;
  });
  const applied = JSON.parse(cm.data?.['applied.json'] ?? 'null') as { migrations?: { name: string }[] };
  expect(applied.migrations?.map((m) => m.name)).toEqual(migrateResult().migrations?.map((m) => m.name));
  // The same run: the check's entry stays.
  expect(cm.data?.['plan.json']).toBe(cmAfterCheck.data?.['plan.json']);
}, 180_000);
