// Serialization per database, restarts mid-run, and leader election, against
// the real API server with real operator processes.
import { getCondition } from '../../operator/conditions.js';
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
  getResource,
  jobsOf,
  migrateResult,
  operatorIdentity,
  planResult,
  startOperator,
  uniqueName,
  waitFor,
  waitForPhase,
  type OperatorIdentity,
  type RunningOperator,
} from './harness.js';

const c = clients();
const running: RunningOperator[] = [];

async function setup(prefix: string): Promise<{ ns: string; system: string; identity: OperatorIdentity }> {
  const ns = uniqueName(prefix);
  const system = uniqueName(`${prefix}-sys`);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  const identity = await operatorIdentity(c, system, system);
  return { ns, system, identity };
}

async function start(identity: OperatorIdentity, ns: string, name: string): Promise<RunningOperator> {
  const op = await startOperator(identity, ns, name);
  running.push(op);
  return op;
}

const ownedBy = async (ns: string, owner: string, step?: 'check' | 'backup' | 'migrate') =>
  (await jobsOf(c, ns, step)).filter((j) => j.metadata?.ownerReferences?.[0]?.name === owner);

beforeAll(async () => {
  await ensureCrd(c);
});

afterAll(async () => {
  await Promise.all(running.map((o) => o.stop('SIGKILL')));
});

describe('operator behaviour across resources and processes', () => {
  it('a second resource for the same database waits until the first run ends', async () => {
    const { ns, system, identity } = await setup('it-queue');
    await start(identity, ns, 'op-queue');
    await createResource(c, baseResource('first', ns, 'orders'));
    await waitFor('first check job', async () => (await ownedBy(ns, 'first', 'check'))[0]);
    // Same host, port and database name, written differently: still the same target.
    const second = baseResource('second', ns, 'orders');
    (second.spec as { database: { host: string } }).database.host = 'POSTGRES.db.svc';
    await createResource(c, second);
    const queued = await waitForPhase(c, ns, 'second', 'Queued');
    // The message names the database, not the holder: a holder change rewrites no queued status.
    expect(getCondition(queued.status?.conditions, 'Reconciling')?.message).toBe(
      'Waiting for another run on postgres.db.svc:5432/orders to finish (one run at a time per database)',
    );
    expect(await ownedBy(ns, 'second')).toHaveLength(0);
    // A third resource on another database is not held up.
    await createResource(c, baseResource('other', ns, 'billing'));
    await waitFor('other check job', async () => (await ownedBy(ns, 'other', 'check'))[0]);

    for (const [step, res] of [
      ['check', planResult()],
      ['backup', backupResult()],
      ['migrate', migrateResult()],
    ] as const) {
      const job = await waitFor(`first ${step}`, async () => (await ownedBy(ns, 'first', step))[0]);
      expect((await getResource(c, ns, 'second')).status?.phase).toBe('Queued');
      await finishJobPod(c, job, res);
    }
    await waitForPhase(c, ns, 'first', 'Succeeded');
    const started = await waitForPhase(c, ns, 'second', 'Checking');
    expect(started.status?.jobs?.check).toBeDefined();
    await deleteNamespace(c, ns);
    await deleteNamespace(c, system);
  });

  it('a killed and restarted operator adopts the running Job and completes the run', async () => {
    const { ns, system, identity } = await setup('it-restart');
    const first = await start(identity, ns, 'op-restart-1');
    await createResource(c, baseResource('shop', ns));
    const check = await waitFor('check job', async () => (await ownedBy(ns, 'shop', 'check'))[0]);
    await finishJobPod(c, check, planResult());
    const backup = await waitFor('backup job', async () => (await ownedBy(ns, 'shop', 'backup'))[0]);
    await first.stop('SIGKILL');

    // While no operator runs, the backup finishes.
    await finishJobPod(c, backup, backupResult());
    const second = await start(identity, ns, 'op-restart-2');
    const migrate = await waitFor('migrate job', async () => (await ownedBy(ns, 'shop', 'migrate'))[0]);
    await second.stop('SIGKILL');
    const third = await start(identity, ns, 'op-restart-3');
    await finishJobPod(c, migrate, migrateResult());
    const done = await waitForPhase(c, ns, 'shop', 'Succeeded');
    expect(getCondition(done.status?.conditions, 'Ready')?.status).toBe('True');
    for (const step of ['check', 'backup', 'migrate'] as const)
      expect(await ownedBy(ns, 'shop', step)).toHaveLength(1);
    expect(third.logs()).not.toMatch(/created Job/);
    await deleteNamespace(c, ns);
    await deleteNamespace(c, system);
  });

  it('with two replicas only the leader acts; the other takes over when it goes', async () => {
    const { ns, system, identity } = await setup('it-leader');
    const a = await start(identity, ns, 'replica-a');
    const lease = await waitFor('a lease holder', async () => {
      const l = await c.coordination.readNamespacedLease({ name: identity.leaseName, namespace: system });
      return l.spec?.holderIdentity ? l : undefined;
    });
    expect(lease.spec?.holderIdentity).toMatch(/^replica-a/);
    const b = await start(identity, ns, 'replica-b');
    await createResource(c, baseResource('shop', ns));
    await waitFor('check job', async () => (await ownedBy(ns, 'shop', 'check'))[0]);
    // Logs are written asynchronously; wait for the leader's line, then check the other has none.
    await waitFor('the leader to log the Job it created', async () => /created Job/.test(a.logs()), 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(b.logs()).not.toMatch(/created Job|became leader/);

    const scrape = async (op: RunningOperator) => (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
    expect(await scrape(a)).toMatch(/^dbmigration_leader 1$/m);
    expect(await scrape(b)).toMatch(/^dbmigration_leader 0$/m);

    await a.stop('SIGTERM'); // releases the lease on a clean shutdown
    await waitFor('replica-b to lead', async () => /became leader/.test(b.logs()), 30_000);
    const l = await c.coordination.readNamespacedLease({ name: identity.leaseName, namespace: system });
    expect(l.spec?.holderIdentity).toMatch(/^replica-b/);
    await driveToSuccess(c, ns).catch(async () => {
      // check was created by replica-a already; finish from the current step on.
    });
    await waitForPhase(c, ns, 'shop', 'Succeeded');
    expect(await ownedBy(ns, 'shop', 'check')).toHaveLength(1);
    await deleteNamespace(c, ns);
    await deleteNamespace(c, system);
  });
});
