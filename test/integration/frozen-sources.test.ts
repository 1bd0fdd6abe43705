// The migrations cannot change under a run, against the real API server: the
// image is pinned to the digest a Pod of the run reported, and a migrations
// ConfigMap edited mid-run stops the run before the migrate Job.
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
  operatorIdentity,
  planResult,
  startOperator,
  uniqueName,
  waitFor,
  waitForPhase,
  type RunningOperator,
} from './harness.js';

const c = clients();
const ns = uniqueName('it-frozen');
const system = uniqueName('it-frozen-sys');
let operator: RunningOperator;
const DIGEST = `sha256:${'5e'.repeat(32)}`;

const jobOf = (owner: string, step: 'check' | 'backup' | 'migrate') =>
  waitFor(`${owner} ${step} Job`, async () =>
    (await jobsOf(c, ns, step)).find((j) => j.metadata?.ownerReferences?.[0]?.name === owner),
  );

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  operator = await startOperator(await operatorIdentity(c, system, system), ns, 'op-frozen');
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

it('pins the migrations image to the digest the check Pod resolved; the migrate Job uses it', async () => {
  await createResource(c, baseResource('pinned', ns, 'pinned'));
  await finishJobPod(c, await jobOf('pinned', 'check'), planResult(), {
    migrationsImageID: `docker.io/example/product-service@${DIGEST}`,
  });
  const dm = await waitFor('the digest in status.run', async () => {
    const r = await getResource(c, ns, 'pinned');
    return r.status?.run?.migrationsImageDigest ? r : undefined;
  });
  expect(dm.status?.run?.migrationsImageDigest).toBe(`example/product-service@${DIGEST}`);
  await finishJobPod(c, await jobOf('pinned', 'backup'), backupResult());
  const migrate = await jobOf('pinned', 'migrate');
  expect(migrate.spec?.template.spec?.initContainers?.find((c) => c.name === 'copy-migrations')?.image).toBe(
    `example/product-service@${DIGEST}`,
  );
}, 120_000);

it('a migrations ConfigMap edited mid-run stops the run before the migrate Job, naming it', async () => {
  await c.core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: 'ledger-migrations' }, data: { '1700000000000-A.js': 'export class A {}' } },
  });
  await createResource(
    c,
    baseResource('cm-run', ns, 'cmrun', { migrations: { configMapRef: { name: 'ledger-migrations' } } }),
  );
  const check = await jobOf('cm-run', 'check');
  const frozen = (await getResource(c, ns, 'cm-run')).status?.run?.migrationsConfigMap;
  expect(frozen?.name).toBe('ledger-migrations');
  // A label edit is not a change of the migrations; a new file is.
  await c.core.patchNamespacedConfigMap({
    name: 'ledger-migrations',
    namespace: ns,
    body: [
      { op: 'add', path: '/metadata/labels', value: { team: 'ledger' } },
      { op: 'add', path: '/data/1700000001000-B.js', value: 'export class B {}' },
    ],
  });
  await finishJobPod(c, check, planResult());
  await finishJobPod(c, await jobOf('cm-run', 'backup'), backupResult());
  const failed = await waitForPhase(c, ns, 'cm-run', 'Failed');
  expect(failed.status?.lastError?.message).toMatch(/^ConfigMap ledger-migrations changed during the run/);
  expect(failed.status?.conditions?.find((x) => x.type === 'Stalled')?.status).toBe('True');
  const migrates = (await jobsOf(c, ns, 'migrate')).filter(
    (j) => j.metadata?.ownerReferences?.[0]?.name === 'cm-run',
  );
  expect(migrates).toEqual([]);
}, 120_000);

it('an image volume needs a digest (the API refuses a tag); with one, the API server takes the Job that mounts it', async () => {
  const tagged = baseResource('volume-tag', ns, 'volume-tag', {
    migrations: { image: 'example/product-service:2', source: 'imageVolume' },
  });
  await expect(createResource(c, tagged)).rejects.toThrow(/needs migrations.image as a digest reference/);

  const image = `example/product-service@${DIGEST}`;
  await createResource(
    c,
    baseResource('volume', ns, 'volume', {
      migrations: { image, path: '/app/dist/migrations', source: 'imageVolume' },
    }),
  );
  const check = await jobOf('volume', 'check');
  const pod = check.spec?.template.spec;
  // Nothing copied: the only init container is the check's capture (the connection's side).
  expect(pod?.initContainers?.map((x) => x.name)).toEqual(['capture']);
  expect(pod?.volumes?.find((v) => v.name === 'migrations')?.image).toEqual({
    reference: image,
    pullPolicy: 'IfNotPresent',
  });
  expect(pod?.containers[0]?.env?.find((e) => e.name === 'MIGRATIONS_DIR')?.value).toBe(
    '/migrations/app/dist/migrations',
  );
});
