// One run at a time per database by its identity, against the real API server:
// two resources reach one database through two spellings of its host (a Service
// name and its IP), so their spelled targets differ and both checks run; the
// checks read the same database identity, and only one run goes on to its
// backup and migrate while the other waits, then follows.
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
} from '../integration/harness.js';
import { recordReliability, writeReliabilityDoc } from './reliability-report.js';

const c = clients();
const ns = uniqueName('it-ident');
const system = uniqueName('it-ident-sys');
let operator: RunningOperator;
const database = { key: 'c'.repeat(32), server: 'system:7301234567890123456', databaseOid: 16384 };

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  operator = await startOperator(await operatorIdentity(c, system, system), ns, 'op-ident');
}, 120_000);

afterAll(async () => {
  writeReliabilityDoc();
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

const jobOf = async (step: 'check' | 'backup' | 'migrate', name: string) =>
  (await jobsOf(c, ns, step)).find((j) => j.metadata?.labels?.['dbmigrate.io/name'] === name);

it('a Service name and its IP for one database: both checked, then one run at a time', async () => {
  const byName = baseResource('by-name', ns, 'shop');
  const byIp = baseResource('by-ip', ns, 'shop');
  (byIp.spec as { database: { host: string } }).database.host = '10.96.12.34';
  await createResource(c, byName);
  await createResource(c, byIp);
  // Different spellings: both runs start their check at once (nothing touches the database yet).
  const checks = await waitFor('both check Jobs', async () => {
    const a = await jobOf('check', 'by-name');
    const b = await jobOf('check', 'by-ip');
    return a && b ? [a, b] : undefined;
  });
  for (const job of checks) await finishJobPod(c, job, { ...planResult(), database });

  // The same database by its identity: exactly one goes on to its backup.
  const first = await waitFor('one backup Job', async () => {
    const a = await jobOf('backup', 'by-name');
    const b = await jobOf('backup', 'by-ip');
    return a || b
      ? { job: (a ?? b)!, name: a ? 'by-name' : 'by-ip', other: a ? 'by-ip' : 'by-name' }
      : undefined;
  });
  const waiting = await waitFor('the other waiting, naming the holder', async () => {
    const dm = await getResource(c, ns, first.other);
    const msg = dm.status?.conditions?.find((x) => x.type === 'Reconciling')?.message ?? '';
    return msg.includes(`waiting for ${ns}/${first.name}`) ? dm : undefined;
  });
  expect(waiting.status?.phase).toBe('Checking');
  expect(waiting.status?.databaseIdentity).toEqual({ key: database.key, server: database.server });
  expect(await jobOf('backup', first.other)).toBeUndefined();

  await finishJobPod(c, first.job, backupResult());
  const migrate = await waitFor('migrate Job', async () => jobOf('migrate', first.name));
  // Still one at a time while the first migrates.
  expect(await jobOf('backup', first.other)).toBeUndefined();
  await finishJobPod(c, migrate, migrateResult());
  await waitForPhase(c, ns, first.name, 'Succeeded');

  // Then the other follows.
  const second = await waitFor('the second backup Job', async () => jobOf('backup', first.other), 60_000);
  await finishJobPod(c, second, backupResult());
  await finishJobPod(
    c,
    await waitFor('second migrate Job', async () => jobOf('migrate', first.other)),
    migrateResult(),
  );
  await waitForPhase(c, ns, first.other, 'Succeeded');
  recordReliability({
    fault: 'two resources on one database through an alias (Service name and its IP)',
    run: 'success x2',
    injected: 1,
    outcome:
      'both checked; serialized by the database identity: the second backup started after the first run Succeeded',
    jobsCreatedOnce: true,
    detail: `identity ${database.server}/${database.databaseOid}`,
  });
}, 240_000);
