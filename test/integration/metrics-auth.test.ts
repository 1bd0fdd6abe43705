// /metrics behind the real API server's TokenReview and SubjectAccessReview: the
// operator runs with the chart's RBAC (its metrics-auth ClusterRole included) and
// METRICS_AUTH on; a ServiceAccount bound to the chart's metrics-reader ClusterRole
// scrapes, one without it is refused, the probes answer anyone.
import {
  clients,
  createNamespace,
  deleteNamespace,
  ensureCrd,
  helmTemplate,
  operatorIdentity,
  startOperator,
  uniqueName,
  type RunningOperator,
} from './harness.js';

const c = clients();
const ns = uniqueName('it-mauth');
const system = uniqueName('it-mauth-sys');
const binding = `${system}-scraper`;
let operator: RunningOperator;
let readerRole = '';

const tokenOf = async (name: string) => {
  await c.core.createNamespacedServiceAccount({ namespace: system, body: { metadata: { name } } });
  const t = await c.core.createNamespacedServiceAccountToken({
    name,
    namespace: system,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  return t.status?.token ?? '';
};

const scrape = (path: string, token?: string) =>
  fetch(
    `http://127.0.0.1:${operator.port}${path}`,
    token ? { headers: { Authorization: `Bearer ${token}` } } : {},
  );

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  readerRole =
    helmTemplate(system, system).find(
      (o) => o.kind === 'ClusterRole' && o.metadata?.name?.endsWith('-metrics-reader'),
    )?.metadata?.name ?? '';
  if (!readerRole) throw new Error('the chart rendered no metrics-reader ClusterRole');
  operator = await startOperator(await operatorIdentity(c, system, system), ns, 'op-mauth', {
    METRICS_AUTH: 'true',
  });
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  await c.rbac.deleteClusterRoleBinding({ name: binding }).catch(() => undefined);
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

describe('/metrics with METRICS_AUTH', () => {
  it('401 without or with an invalid token, 403 when not allowed, 200 when bound to metrics-reader', async () => {
    const scraper = await tokenOf('scraper');
    const stranger = await tokenOf('stranger');
    await c.rbac.createClusterRoleBinding({
      body: {
        metadata: { name: binding },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: readerRole },
        subjects: [{ kind: 'ServiceAccount', name: 'scraper', namespace: system }],
      },
    });

    const none = await scrape('/metrics');
    expect(none.status).toBe(401);
    expect(await none.text()).not.toContain('dbmigration_');
    expect((await scrape('/metrics', 'not-a-token')).status).toBe(401);
    const refused = await scrape('/metrics', stranger);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain(`system:serviceaccount:${system}:stranger`);

    const ok = await scrape('/metrics', scraper);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('dbmigration_');
    // The probes need no token: the kubelet sends none.
    expect((await scrape('/healthz')).status).toBe(200);
    expect((await scrape('/readyz')).status).toBe(200);
    // Nothing of the token in the operator's log.
    expect(operator.logs()).not.toContain(scraper);
    expect(operator.logs()).not.toContain(stranger);
  });
});
