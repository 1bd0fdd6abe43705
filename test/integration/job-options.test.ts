// Jobs that fit the cluster, against the real API server: a resource that takes
// its connection from a CloudNativePG-shaped Secret, mounts a CA bundle and a
// client certificate, and sets annotations, affinity, a priority class, env and
// volumes (plus the chart-wide JOB_DEFAULTS) gets Jobs the API server and the
// Job controller accept, with exactly those settings on their Pods; runs on one
// Secret are serialized; the operator never reads a Secret.
import type * as k8s from '@kubernetes/client-node';
import {
  apply,
  auditedRequests,
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
const ns = uniqueName('it-jobopts');
const system = uniqueName('it-jobopts-sys');
const priorityClass = uniqueName('it-dbm-batch');
let operator: RunningOperator;
let operatorUser = '';
const started = new Date(Date.now() - 1000);

const affinity = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: 'dbmigrate.io/integration-test', operator: 'In', values: ['no-node-matches'] },
          ],
        },
      ],
    },
  },
};

const cnpgResource = (name: string) =>
  baseResource(name, ns, 'unused', {
    database: {
      connectionSecretRef: { name: 'app-db-app' },
      sslMode: 'verify-full',
      tls: { caSecretRef: { name: 'app-db-ca' }, clientCertSecretRef: { name: 'migrator-cert' } },
      schema: 'shop',
    },
    jobTemplate: {
      podAnnotations: { 'sidecar.istio.io/inject': 'false' },
      podLabels: { team: 'shop' },
      affinity,
      priorityClassName: priorityClass,
      env: [{ name: 'HTTPS_PROXY', value: 'http://proxy.internal:3128' }],
      volumes: [{ name: 'corp-ca', configMap: { name: 'corp-ca' } }],
      volumeMounts: [{ name: 'corp-ca', mountPath: '/etc/corp-ca', readOnly: true }],
      stepResources: { backup: { requests: { cpu: '200m', memory: '512Mi' } } },
    },
  });

async function jobOf(owner: string, step: string): Promise<k8s.V1Job> {
  return waitFor(`the ${step} Job of ${owner}`, async () =>
    (await jobsOf(c, ns)).find(
      (j) =>
        j.metadata?.labels?.['dbmigrate.io/step'] === step &&
        j.metadata?.ownerReferences?.[0]?.name === owner,
    ),
  );
}

async function podOf(job: k8s.V1Job): Promise<k8s.V1Pod> {
  return waitFor(`a Pod of ${job.metadata?.name}`, async () => {
    const pods = await c.core.listNamespacedPod({
      namespace: ns,
      labelSelector: `batch.kubernetes.io/job-name=${job.metadata!.name}`,
    });
    return pods.items[0];
  });
}

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  await apply(c, {
    apiVersion: 'scheduling.k8s.io/v1',
    kind: 'PriorityClass',
    metadata: { name: priorityClass },
    value: 1000,
  } as k8s.KubernetesObject);
  // CloudNativePG's <cluster>-app Secret (type basic-auth, these keys) and its CA Secret.
  await c.core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: 'app-db-app' },
      type: 'kubernetes.io/basic-auth',
      stringData: {
        username: 'app',
        user: 'app',
        password: 'not-read-by-the-operator',
        dbname: 'app',
        host: 'app-db-rw',
        port: '5432',
        uri: 'postgresql://app:not-read-by-the-operator@app-db-rw.x:5432/app',
      },
    },
  });
  const identity = await operatorIdentity(c, system, system);
  operatorUser = `system:serviceaccount:${system}:${identity.serviceAccount}`;
  operator = await startOperator(identity, ns, 'op-jobopts', {
    JOB_DEFAULTS: JSON.stringify({
      podAnnotations: { 'example.com/cost-center': 'platform', 'sidecar.istio.io/inject': 'true' },
      podLabels: { 'example.com/owner': 'platform' },
      env: [{ name: 'TZ', value: 'UTC' }],
    }),
  });
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
  await c.objects
    .delete({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: priorityClass } })
    .catch(() => undefined);
});

describe('Job options on a real API server', () => {
  it('builds Jobs from a CloudNativePG Secret, a CA bundle, a client certificate and the platform settings, which the API server, the Job controller and Pod admission accept', async () => {
    await createResource(c, cnpgResource('shop'));
    const check = await jobOf('shop', 'check');
    const pod = await podOf(check);
    const container = pod.spec!.containers[0]!;
    // The connection is on the capture init container only; the check container runs migration code.
    const capture = pod.spec!.initContainers!.find((x) => x.name === 'capture')!;
    const env = new Map((capture.env ?? []).map((e) => [e.name, e]));
    const own = new Map((container.env ?? []).map((e) => [e.name, e]));
    expect([...own.keys()].filter((n) => n.startsWith('PG'))).toEqual([]);
    for (const [name, key] of [
      ['PGHOST', 'host'],
      ['PGPORT', 'port'],
      ['PGDATABASE', 'dbname'],
      ['PGUSER', 'user'],
      ['PGPASSWORD', 'password'],
    ] as const)
      expect(env.get(name)?.valueFrom?.secretKeyRef).toEqual({ name: 'app-db-app', key });
    expect(env.get('PGSSLMODE')?.value).toBe('verify-full');
    expect(env.get('PGSSLROOTCERT')?.value).toBe('/etc/dbmigrate/tls/ca/ca.crt');
    expect(env.get('PGSSLKEY')?.value).toBe('/etc/dbmigrate/tls/client/tls.key');
    expect(own.get('MIGRATIONS_SCHEMA')?.value).toBe('shop');
    expect(own.get('HTTPS_PROXY')?.value).toBe('http://proxy.internal:3128');
    expect(own.get('TZ')?.value).toBe('UTC');
    // As the API server stored them (it defaults and validates volume sources).
    const client = pod.spec!.volumes!.find((v) => v.name === 'dbm-tls-client');
    expect(client?.secret).toMatchObject({ secretName: 'migrator-cert', defaultMode: 0o400 });
    expect(pod.spec!.volumes!.find((v) => v.name === 'corp-ca')?.configMap?.name).toBe('corp-ca');
    expect(capture.volumeMounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'dbm-tls-ca', mountPath: '/etc/dbmigrate/tls/ca', readOnly: true }),
      ]),
    );
    expect(container.volumeMounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'corp-ca', mountPath: '/etc/corp-ca', readOnly: true }),
      ]),
    );
    expect((container.volumeMounts ?? []).map((m) => m.name)).not.toContain('dbm-tls-client');
    expect(pod.spec!.affinity).toEqual(affinity);
    // Priority admission resolved the class into the Pod's priority.
    expect(pod.spec!.priorityClassName).toBe(priorityClass);
    expect(pod.spec!.priority).toBe(1000);
    expect(container.resources?.requests).toEqual({ cpu: '100m', memory: '256Mi' });
    expect(pod.status?.qosClass).toBe('Burstable');
    expect(pod.metadata?.annotations).toMatchObject({
      'sidecar.istio.io/inject': 'false',
      'example.com/cost-center': 'platform',
    });
    expect(pod.metadata?.annotations?.['karpenter.sh/do-not-disrupt']).toBeUndefined();
    expect(pod.metadata?.labels).toMatchObject({
      team: 'shop',
      'example.com/owner': 'platform',
      'dbmigrate.io/step': 'check',
    });
    expect(check.metadata?.annotations?.['dbmigrate.io/target']).toBe('secret:app-db-app');
    expect((await getResource(c, ns, 'shop')).status?.target).toBe(`secret:${ns}/app-db-app`);
  });

  it('serializes runs that use the same Secret; the mutating steps carry the no-disrupt annotations', async () => {
    await createResource(c, cnpgResource('shop-admin'));
    const queued = await waitForPhase(c, ns, 'shop-admin', 'Queued');
    expect(queued.status?.conditions?.map((x) => x.message).join('\n')).toContain(
      `Waiting for another run on secret:${ns}/app-db-app to finish`,
    );

    await finishJobPod(c, await jobOf('shop', 'check'), planResult());
    const backup = await jobOf('shop', 'backup');
    const backupPod = await podOf(backup);
    expect(backupPod.spec!.containers[0]!.resources?.requests).toEqual({ cpu: '200m', memory: '512Mi' });
    await finishJobPod(c, backup, backupResult());
    const migrate = await jobOf('shop', 'migrate');
    const migratePod = await podOf(migrate);
    for (const p of [backupPod, migratePod])
      expect(p.metadata?.annotations).toMatchObject({
        'karpenter.sh/do-not-disrupt': 'true',
        'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false',
      });
    await finishJobPod(c, migrate, migrateResult());
    await waitForPhase(c, ns, 'shop', 'Succeeded');
    // The Secret is free: the queued resource starts its run.
    await jobOf('shop-admin', 'check');
  });

  it('the API server refuses a resource with both ways to connect, or neither (CEL)', async () => {
    const both = baseResource('both', ns);
    (both.spec as { database: Record<string, unknown> }).database = {
      host: 'h',
      database: 'd',
      user: 'u',
      passwordSecretRef: { name: 'db', key: 'password' },
      connectionSecretRef: { name: 'app-db-app' },
    };
    await expect(createResource(c, both)).rejects.toMatchObject({
      body: expect.stringContaining(
        'set either connectionSecretRef or all of host, database, user and passwordSecretRef',
      ),
    });
    const neither = baseResource('neither', ns);
    (neither.spec as { database: Record<string, unknown> }).database = { host: 'h', database: 'd' };
    await expect(createResource(c, neither)).rejects.toMatchObject({
      body: expect.stringContaining('set either connectionSecretRef'),
    });
    const twoCas = cnpgResource('two-cas');
    (twoCas.spec as { database: { tls: Record<string, unknown> } }).database.tls.caConfigMapRef = {
      name: 'x',
    };
    await expect(createResource(c, twoCas)).rejects.toMatchObject({
      body: expect.stringContaining('set at most one of tls.caSecretRef and tls.caConfigMapRef'),
    });
  });

  it('the operator never read a Secret', () => {
    const requests = auditedRequests(operatorUser, started, new Date(Date.now() + 1000));
    if (!requests) throw new Error('the local cluster has no audit log; restart it with test/cluster/up.sh');
    expect(requests.total).toBeGreaterThan(0);
    expect(Object.keys(requests.byVerb).filter((v) => v.endsWith(' secrets'))).toEqual([]);
  });
});
