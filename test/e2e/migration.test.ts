// End to end on a real node: the operator runs as a Pod from its image, the
// backup and migrate Jobs run the migrator image against the PostgreSQL of
// test/e2e/up.sh, and the test checks the result in PostgreSQL itself.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { apply, env, kubectl, loadEnv, password, withDb } from './env.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Dbm {
  status?: {
    phase?: string;
    conditions?: Condition[];
    backup?: { sha256?: string; sizeBytes?: number; verified?: boolean };
    applied?: { name: string; durationMs: number }[];
    lastError?: { step: string; message: string; code?: string; migration?: string };
  };
}
const getDbm = (ns: string, name: string): Dbm =>
  JSON.parse(kubectl(['-n', ns, 'get', 'databasemigration', name, '-o', 'json'])) as Dbm;

async function waitForPhase(ns: string, name: string, phases: string[], timeoutMs = 300_000): Promise<Dbm> {
  const deadline = Date.now() + timeoutMs;
  let last: Dbm = {};
  while (Date.now() < deadline) {
    last = getDbm(ns, name);
    if (last.status?.phase && phases.includes(last.status.phase)) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(
    `${ns}/${name} did not reach ${phases.join('|')}; last status: ${JSON.stringify(last.status)}`,
  );
}

const freshDatabase = async (name: string): Promise<void> =>
  withDb('postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  }).then(() =>
    // An existing app database: it already holds data before the first migration.
    withDb(name, async (c) => {
      await c.query('CREATE TABLE app_settings (key text PRIMARY KEY, value text NOT NULL)');
      await c.query("INSERT INTO app_settings VALUES ('currency', 'EUR')");
    }),
  );

/** The operator's namespace (test/e2e/up.sh made it), emptied, with the password Secret and a backup PVC on a local PersistentVolume. */
function prepareNamespace(ns: string): void {
  kubectl([
    '-n',
    ns,
    'delete',
    'databasemigrations,jobs,configmaps,pvc',
    '--all',
    '--ignore-not-found',
    '--wait=true',
  ]);
  apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace: ns },
    stringData: { password: password() },
  });
  const pv = `${ns}-backups`;
  const hostDir = `${env('DBM_E2E_BACKUP_ROOT')}/${ns}`;
  if (process.env.DBM_E2E_CLUSTER === 'local') {
    // The node is this machine: fresh databases, fresh backups; the Jobs run as a
    // non-root uid and must be able to write here.
    rmSync(hostDir, { recursive: true, force: true });
    mkdirSync(hostDir, { recursive: true });
    chmodSync(hostDir, 0o1777);
  }
  kubectl(['delete', 'pv', pv, '--ignore-not-found', '--wait=true']);
  apply({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: pv },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: 'e2e-local',
      claimRef: { namespace: ns, name: 'backups' },
      hostPath: { path: hostDir, type: 'DirectoryOrCreate' },
    },
  });
  apply({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'backups', namespace: ns },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'e2e-local',
      resources: { requests: { storage: '1Gi' } },
    },
  });
}

function databaseMigration(
  ns: string,
  name: string,
  database: string,
  migrations: Record<string, unknown>,
): unknown {
  return {
    apiVersion: 'dbmigrate.io/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name, namespace: ns },
    spec: {
      database: {
        host: env('DBM_PG_HOST'),
        port: Number(env('DBM_PG_PORT')),
        database,
        user: env('DBM_PG_USER'),
        sslMode: 'disable',
        passwordSecretRef: { name: 'db', key: 'password' },
      },
      migrations,
      backup: { enabled: true, pvcName: 'backups' },
      timeouts: { lockTimeoutSeconds: 10, statementTimeoutSeconds: 0, advisoryLockWaitSeconds: 300 },
      jobTemplate: { activeDeadlineSeconds: 300, runAsUser: 10001 },
    },
  };
}

const NS = process.env.DBM_E2E_NAMESPACE ?? 'dbm-e2e';
const cleanup: string[] = [];

beforeAll(() => {
  loadEnv();
  prepareNamespace(NS);
}, 1_800_000);

afterAll(async () => {
  if (process.env.DBM_E2E_KEEP === '1') return;
  try {
    kubectl([
      '-n',
      NS,
      'delete',
      'databasemigrations,jobs,configmaps,pvc',
      '--all',
      '--ignore-not-found',
      '--wait=false',
    ]);
    kubectl(['delete', 'pv', `${NS}-backups`, '--ignore-not-found', '--wait=false']);
  } catch {
    /* best effort */
  }
  for (const db of cleanup)
    await withDb('postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)).catch(
      () => undefined,
    );
});

test('the example app migrates on the real node: backup, migrations, Ready=True, data in PostgreSQL', async () => {
  const db = 'e2e_products';
  cleanup.push(db);
  await freshDatabase(db);
  apply(
    databaseMigration(NS, 'products', db, {
      image: env('DBM_EXAMPLE_IMAGE'),
      path: '/app/dist/migrations',
      transactionMode: 'each',
    }),
  );

  const dm = await waitForPhase(NS, 'products', ['Succeeded', 'Failed', 'Blocked']);
  // The whole status on failure, so the report says why.
  expect({ phase: dm.status?.phase, lastError: dm.status?.lastError }).toEqual({
    phase: 'Succeeded',
    lastError: undefined,
  });
  expect(dm.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  expect(dm.status?.backup?.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(dm.status?.applied?.map((a) => a.name)).toEqual([
    'CreateCatalog1709000000000',
    'AddProductAttributes1709123456789',
    'SeedProductCategories1709123456790',
    'SeedStarterProducts1709200000000',
  ]);

  // The Jobs ran as real containers on the node.
  const jobs = JSON.parse(
    kubectl(['-n', NS, 'get', 'jobs', '-l', 'dbmigrate.io/name=products', '-o', 'json']),
  ) as {
    items: { metadata: { labels: Record<string, string> }; status: { succeeded?: number } }[];
  };
  const steps = jobs.items
    .filter((j) => (j.status.succeeded ?? 0) > 0)
    .map((j) => j.metadata.labels['dbmigrate.io/step']);
  expect(steps).toEqual(expect.arrayContaining(['backup', 'migrate']));

  await withDb(db, async (c) => {
    const cats = await c.query<{ name: string }>('SELECT name FROM categories ORDER BY name');
    expect(cats.rows.map((r) => r.name)).toEqual(['Clothing', 'Electronics']);
    const variants = await c.query<{ sku: string; attributes: Record<string, string> }>(
      'SELECT sku, attributes FROM product_variants ORDER BY sku',
    );
    expect(variants.rows).toHaveLength(3);
    expect(variants.rows[0]?.attributes).toEqual({ edition: 'standard' });
    const applied = await c.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
    expect(applied.rows).toHaveLength(4);
  });
}, 600_000);

test('a migration that fails in its container ends Failed with PostgreSQL’s error in the status', async () => {
  const db = 'e2e_broken';
  cleanup.push(db);
  await freshDatabase(db);
  apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'broken-migrations', namespace: NS },
    data: {
      '1710000000000-AlterMissingTable.mjs': [
        'export class AlterMissingTable1710000000000 {',
        "  name = 'AlterMissingTable1710000000000';",
        "  async up(q) { await q.query('ALTER TABLE no_such_table ADD COLUMN note text'); }",
        "  async down(q) { await q.query('ALTER TABLE no_such_table DROP COLUMN note'); }",
        '}',
        '',
      ].join('\n'),
    },
  });
  apply(databaseMigration(NS, 'broken', db, { configMapRef: { name: 'broken-migrations' } }));

  const dm = await waitForPhase(NS, 'broken', ['Succeeded', 'Failed', 'Blocked']);
  // The check Job already runs the migration (in a transaction it rolls back), so
  // PostgreSQL's error surfaces there, before any backup or change.
  expect(dm.status?.phase).toBe('Failed');
  expect(['check', 'migrate']).toContain(dm.status?.lastError?.step);
  expect(dm.status?.conditions?.find((c) => c.type === 'Ready')?.status).not.toBe('True');
  expect(dm.status?.lastError?.message).toContain('relation "no_such_table" does not exist');
  expect(dm.status?.lastError?.code).toBe('42P01');
  // Nothing was applied.
  await withDb(db, async (c) => {
    const t = await c.query("SELECT to_regclass('public.migrations') IS NOT NULL AS has");
    if (t.rows[0]?.has) expect((await c.query('SELECT * FROM migrations')).rows).toHaveLength(0);
  });
}, 600_000);
