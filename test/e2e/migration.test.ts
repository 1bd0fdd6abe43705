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
    progress?: { applied: number; total: number; current?: string; message: string };
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

test('a migration that fails is Blocked by the rehearsal with PostgreSQL’s error in the status', async () => {
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
  // The check's rehearsal runs the migration on a private copy of the database, so
  // PostgreSQL's error surfaces there, before any backup or change: a blocking finding.
  expect(dm.status?.phase).toBe('Blocked');
  expect(dm.status?.conditions?.find((c) => c.type === 'Ready')?.status).not.toBe('True');
  const plan = (
    dm.status as { plan?: { blocking?: string[]; findings?: { rule: string; message: string }[] } }
  ).plan;
  expect(plan?.blocking).toEqual(['AlterMissingTable1710000000000: rehearsal-failed']);
  const finding = plan?.findings?.find((f) => f.rule === 'rehearsal-failed');
  expect(finding?.message).toContain('relation "no_such_table" does not exist');
  expect(finding?.message).toContain('42P01');
  // Nothing was applied.
  await withDb(db, async (c) => {
    const t = await c.query("SELECT to_regclass('public.migrations') IS NOT NULL AS has");
    if (t.rows[0]?.has) expect((await c.query('SELECT * FROM migrations')).rows).toHaveLength(0);
  });
}, 600_000);

/** A migration file as a ConfigMap carries it: one class, up() and down() each running one SQL statement (or none). */
function migrationFile(className: string, up: string, down: string): string {
  const q = (sql: string): string => (sql ? `await q.query(${JSON.stringify(sql)});` : '/* nothing */');
  return [
    `export class ${className} {`,
    `  name = '${className}';`,
    `  async up(q) { ${q(up)} }`,
    `  async down(q) { ${q(down)} }`,
    '}',
    '',
  ].join('\n');
}

test('a destructive plan is Blocked with its findings and a readable plan; its hash approves exactly that plan, a changed file needs a new approval', async () => {
  const db = 'e2e_risky';
  cleanup.push(db);
  await freshDatabase(db);
  await withDb(db, async (c) => {
    await c.query('CREATE TABLE legacy_notes (id int PRIMARY KEY, body text)');
    await c.query("INSERT INTO legacy_notes SELECT g, 'note ' || g FROM generate_series(1, 100) g");
  });
  const DROP = 'DropLegacyNotes1720000000000';
  const NOTE = 'AddSettingNote1720000000001';
  const migrations = (noteDown: string): Record<string, string> => ({
    '1720000000000-DropLegacyNotes.mjs': migrationFile(
      DROP,
      'DROP TABLE legacy_notes',
      'CREATE TABLE legacy_notes (id int PRIMARY KEY, body text)',
    ),
    '1720000000001-AddSettingNote.mjs': migrationFile(
      NOTE,
      'ALTER TABLE app_settings ADD COLUMN note text',
      noteDown,
    ),
  });
  const configMap = (noteDown: string): unknown => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'risky-migrations', namespace: NS },
    data: migrations(noteDown),
  });
  // The second migration's down() does nothing: a revert would leave its column behind.
  apply(configMap(''));
  const resource = databaseMigration(NS, 'risky', db, {
    configMapRef: { name: 'risky-migrations' },
    transactionMode: 'each',
  }) as { spec: Record<string, unknown> };
  apply({ ...resource, spec: { ...resource.spec, onFailure: 'revert' } });

  type PlanStatus = { hash?: string; blocking?: string[]; configMap?: string };
  const planOf = (d: Dbm): PlanStatus => (d.status as { plan?: PlanStatus } | undefined)?.plan ?? {};
  const blocked = await waitForPhase(NS, 'risky', ['Blocked', 'Succeeded', 'Failed']);
  expect(blocked.status?.phase).toBe('Blocked');
  const first = planOf(blocked);
  expect(first.blocking).toEqual(
    expect.arrayContaining([`${DROP}: drop-table`, `${NOTE}: irreversible-down`]),
  );
  const stalled = blocked.status?.conditions?.find((c) => c.type === 'Stalled');
  expect(stalled?.message).toContain(`spec.safety.approval: "${first.hash}"`);

  // The full plan, readable with kubectl: names, file checksums, findings, the shadow's verdict.
  const planJson = kubectl([
    '-n',
    NS,
    'get',
    'configmap',
    first.configMap ?? 'risky-plan',
    '-o',
    'jsonpath={.data.plan\\.json}',
  ]);
  const full = JSON.parse(planJson) as {
    plan: {
      pending: string[];
      hash: string;
      checksums: Record<string, string>;
      findings: { rule: string; migration: string; message: string }[];
      shadow: { reversibility: string };
    };
  };
  expect(full.plan.hash).toBe(first.hash);
  expect(full.plan.pending).toEqual([DROP, NOTE]);
  expect(Object.keys(full.plan.checksums)).toEqual([DROP, NOTE]);
  expect(full.plan.findings).toEqual(
    expect.arrayContaining([expect.objectContaining({ rule: 'drop-table', migration: DROP })]),
  );
  expect(full.plan.shadow.reversibility).toBe('failed');
  // The check ran on a shadow: the target still has every row and no migration.
  await withDb(db, async (c) => {
    expect((await c.query('SELECT count(*)::int AS n FROM legacy_notes')).rows[0].n).toBe(100);
    const t = await c.query("SELECT to_regclass('public.migrations') IS NOT NULL AS has");
    if (t.rows[0]?.has) expect((await c.query('SELECT * FROM migrations')).rows).toHaveLength(0);
  });

  // The file changes (its down() fixed) and the old hash is approved: that approval no longer fits.
  apply(configMap('ALTER TABLE app_settings DROP COLUMN note'));
  const approve = (hash: string): string =>
    kubectl([
      '-n',
      NS,
      'patch',
      'databasemigration',
      'risky',
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec: { safety: { approval: hash } } }),
    ]);
  approve(first.hash!);
  const deadline = Date.now() + 300_000;
  let again = getDbm(NS, 'risky');
  while (Date.now() < deadline && !(again.status?.phase === 'Blocked' && planOf(again).hash !== first.hash)) {
    expect(again.status?.phase).not.toBe('Succeeded');
    await new Promise((r) => setTimeout(r, 1000));
    again = getDbm(NS, 'risky');
  }
  const second = planOf(again);
  expect(again.status?.phase).toBe('Blocked');
  expect(second.hash).not.toBe(first.hash);
  expect(second.blocking).toEqual([`${DROP}: drop-table`]);

  // Approving the new hash runs exactly that plan.
  approve(second.hash!);
  const done = await waitForPhase(NS, 'risky', ['Succeeded', 'Failed']);
  expect({ phase: done.status?.phase, lastError: done.status?.lastError }).toEqual({
    phase: 'Succeeded',
    lastError: undefined,
  });
  await withDb(db, async (c) => {
    expect((await c.query("SELECT to_regclass('public.legacy_notes') AS t")).rows[0].t).toBeNull();
    expect((await c.query('SELECT name FROM migrations ORDER BY id')).rows.map((r) => r.name)).toEqual([
      DROP,
      NOTE,
    ]);
  });
}, 900_000);

test('the migrate step shows live progress: migration n of N in the status and the Progress column', async () => {
  const db = 'e2e_progress';
  cleanup.push(db);
  await freshDatabase(db);
  apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'progress-migrations', namespace: NS },
    data: {
      '1720000000000-CreateA.mjs': migrationFile(
        'CreateA1720000000000',
        'CREATE TABLE progress_a (id int)',
        'DROP TABLE progress_a',
      ),
      // Slow enough for several progress polls (every 5 s) while it runs.
      '1720000001000-SlowB.mjs': migrationFile('SlowB1720000001000', 'SELECT pg_sleep(15)', ''),
      '1720000002000-CreateC.mjs': migrationFile(
        'CreateC1720000002000',
        'CREATE TABLE progress_c (id int)',
        'DROP TABLE progress_c',
      ),
    },
  });
  apply(databaseMigration(NS, 'progress', db, { configMapRef: { name: 'progress-migrations' } }));

  // Mid-run: the status names the slow migration as the 2nd of 3, and kubectl get shows it.
  const deadline = Date.now() + 300_000;
  let seen: Dbm = {};
  let column = '';
  while (Date.now() < deadline) {
    seen = getDbm(NS, 'progress');
    if (seen.status?.progress?.current === 'SlowB1720000001000') {
      column = kubectl(['-n', NS, 'get', 'dbm', 'progress']);
      break;
    }
    if (['Succeeded', 'Failed', 'Blocked'].includes(seen.status?.phase ?? '')) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect({ phase: seen.status?.phase, progress: seen.status?.progress }).toEqual({
    phase: 'Migrating',
    progress: { applied: 1, total: 3, current: 'SlowB1720000001000', message: '2/3: SlowB1720000001000' },
  });
  expect(column.split('\n')[0]).toMatch(/\bPROGRESS\b/);
  expect(column).toContain('2/3: SlowB1720000001000');

  const dm = await waitForPhase(NS, 'progress', ['Succeeded', 'Failed', 'Blocked']);
  expect({ phase: dm.status?.phase, lastError: dm.status?.lastError }).toEqual({
    phase: 'Succeeded',
    lastError: undefined,
  });
  expect(dm.status?.progress).toEqual({ applied: 3, total: 3, message: '3/3 applied' });
}, 600_000);

test('a first run on a fresh database that fails on real rows restores: Restored, the app back at 2 replicas, the database as before', async () => {
  // The backup of a first run predates the migrator's history table and TypeORM's migrations table;
  // the restore must still end verified (it once refused: "tables not in the backup remain").
  const db = 'e2e_first_restore';
  cleanup.push(db);
  await freshDatabase(db);
  const app = 'first-restore-app';
  apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app, namespace: NS },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'app',
              image: env('DBM_EXAMPLE_IMAGE'),
              command: ['node', '-e', 'setInterval(() => {}, 1e9)'],
            },
          ],
        },
      },
    },
  });
  apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'first-restore-migrations', namespace: NS },
    data: {
      '1730000000000-CreateOrders.mjs': migrationFile(
        'CreateOrders1730000000000',
        'CREATE TABLE orders (id int PRIMARY KEY)',
        'DROP TABLE orders',
      ),
      // Passes on the check's shadow (schema only, no rows); the real row 'EUR' violates it.
      '1730000001000-OnlyUsd.mjs': migrationFile(
        'OnlyUsd1730000001000',
        "ALTER TABLE app_settings ADD CONSTRAINT only_usd CHECK (value = 'USD')",
        'ALTER TABLE app_settings DROP CONSTRAINT only_usd',
      ),
    },
  });
  const resource = databaseMigration(NS, 'first-restore', db, {
    configMapRef: { name: 'first-restore-migrations' },
    transactionMode: 'each',
  }) as { spec: Record<string, unknown> };
  // The check on the schema alone (the rehearsal off): the failure on the real row reaches
  // production, and the way back is what this case proves.
  apply({
    ...resource,
    spec: {
      ...resource.spec,
      check: { rehearsal: { maxSize: '0' } },
      onFailure: 'restore',
      restoreWorkloads: [{ kind: 'Deployment', name: app }],
    },
  });

  const dm = await waitForPhase(NS, 'first-restore', ['Restored', 'Succeeded', 'Failed', 'Blocked'], 600_000);
  expect({ phase: dm.status?.phase, step: dm.status?.lastError?.step }).toEqual({
    phase: 'Restored',
    step: 'migrate',
  });
  expect(dm.status?.lastError?.migration).toBe('OnlyUsd1730000001000');
  const deadline = Date.now() + 120_000;
  let replicas = '';
  while (Date.now() < deadline) {
    replicas = kubectl(['-n', NS, 'get', 'deployment', app, '-o', 'jsonpath={.spec.replicas}']);
    if (replicas === '2') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(replicas).toBe('2');
  await withDb(db, async (c) => {
    expect((await c.query("SELECT to_regclass('public.orders') AS t")).rows[0].t).toBeNull();
    expect((await c.query('SELECT key, value FROM app_settings')).rows).toEqual([
      { key: 'currency', value: 'EUR' },
    ]);
    const m = await c.query("SELECT to_regclass('public.migrations') IS NOT NULL AS has");
    if (m.rows[0]?.has) expect((await c.query('SELECT * FROM migrations')).rows).toHaveLength(0);
  });
  kubectl(['-n', NS, 'delete', 'deployment', app, '--wait=false']);
}, 900_000);

test('45 long-named migrations applied in each mode, the 46th failing on real rows: onFailure revert ends RolledBack with all 45 gone', async () => {
  // The migrate result cannot list 45 long names in 4 KiB; the revert reads what the run applied
  // from the database (its history rows), so none of the 45 stays behind.
  const db = 'e2e_revert_45';
  cleanup.push(db);
  await freshDatabase(db);
  const long = 'AddAVeryLongAndDescriptiveMigrationNameThatTeamsReallyWrite';
  const data: Record<string, string> = {};
  for (let i = 0; i < 45; i++) {
    const ts = 1740000000000 + i * 1000;
    const cls = `${long}${String(i).padStart(3, '0')}${ts}`;
    data[`${ts}-M${i}.mjs`] = migrationFile(cls, `CREATE TABLE t_${i} (id int)`, `DROP TABLE t_${i}`);
  }
  data['1740000999000-OnlyUsd.mjs'] = migrationFile(
    'OnlyUsd1740000999000',
    "ALTER TABLE app_settings ADD CONSTRAINT only_usd CHECK (value = 'USD')",
    'ALTER TABLE app_settings DROP CONSTRAINT only_usd',
  );
  apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'revert-45-migrations', namespace: NS },
    data,
  });
  const resource = databaseMigration(NS, 'revert-45', db, {
    configMapRef: { name: 'revert-45-migrations' },
    transactionMode: 'each',
  }) as { spec: Record<string, unknown> };
  // The rehearsal off: the failure reaches production, and the revert is what this case proves.
  apply({
    ...resource,
    spec: { ...resource.spec, check: { rehearsal: { maxSize: '0' } }, onFailure: 'revert' },
  });

  const dm = await waitForPhase(NS, 'revert-45', ['RolledBack', 'Succeeded', 'Failed', 'Blocked'], 600_000);
  expect({ phase: dm.status?.phase, migration: dm.status?.lastError?.migration }).toEqual({
    phase: 'RolledBack',
    migration: 'OnlyUsd1740000999000',
  });
  await withDb(db, async (c) => {
    const left = await c.query(
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\\_%'",
    );
    expect(left.rows[0].n).toBe(0);
    const m = await c.query("SELECT to_regclass('public.migrations') IS NOT NULL AS has");
    if (m.rows[0]?.has) expect((await c.query('SELECT name FROM migrations')).rows).toEqual([]);
    // The history says what happened: 45 up, then 45 down, by this run.
    const h = await c.query<{ direction: string; n: number }>(
      "SELECT direction, count(*)::int AS n FROM dbmigrate_history WHERE name LIKE 'AddAVery%' GROUP BY 1 ORDER BY 1",
    );
    expect(h.rows).toEqual([
      { direction: 'down', n: 45 },
      { direction: 'up', n: 45 },
    ]);
  });
}, 900_000);

test('a migrate Job that succeeded and was deleted before the operator saw it ends Succeeded, applied once', async () => {
  // The operator is down while the migrate Job finishes and someone deletes it (a TTL, kubectl
  // delete job). Back up, the operator starts the step again; the migrator counts what this run
  // already applied (its history rows) instead of refusing, and the run ends Succeeded.
  const db = 'e2e_vanished';
  cleanup.push(db);
  await freshDatabase(db);
  apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'vanished-migrations', namespace: NS },
    data: {
      '1750000000000-CreateA.mjs': migrationFile(
        'CreateA1750000000000',
        'CREATE TABLE vanished_a (id int)',
        'DROP TABLE vanished_a',
      ),
      '1750000001000-SlowB.mjs': migrationFile(
        'SlowB1750000001000',
        'SELECT pg_sleep(20)',
        'SELECT pg_sleep(0)',
      ),
    },
  });
  const resource = databaseMigration(NS, 'vanished', db, {
    configMapRef: { name: 'vanished-migrations' },
  }) as {
    spec: Record<string, unknown>;
  };
  apply({ ...resource, spec: { ...resource.spec, onFailure: 'revert' } });
  const opNs = env('DBM_E2E_OPERATOR_NAMESPACE');
  const deploy = kubectl([
    '-n',
    opNs,
    'get',
    'deploy',
    '-l',
    `app.kubernetes.io/instance=${env('DBM_E2E_RELEASE')}`,
    '-o',
    'name',
  ]).trim();
  const replicas = kubectl(['-n', opNs, 'get', deploy, '-o', 'jsonpath={.spec.replicas}']).trim() || '1';
  const sel = 'dbmigrate.io/name=vanished,dbmigrate.io/step=migrate';
  // The status names the Job before it is created: wait for the Job itself, then stop the operator.
  const created = Date.now() + 300_000;
  while (kubectl(['-n', NS, 'get', 'jobs', '-l', sel, '-o', 'name']).trim() === '') {
    if (Date.now() > created) throw new Error('no migrate Job');
    await new Promise((r) => setTimeout(r, 500));
  }
  kubectl(['-n', opNs, 'scale', deploy, '--replicas=0']);
  try {
    const podsGone = Date.now() + 120_000;
    const instance = `app.kubernetes.io/instance=${env('DBM_E2E_RELEASE')}`;
    while (kubectl(['-n', opNs, 'get', 'pods', '-l', instance, '-o', 'name']).trim() !== '') {
      if (Date.now() > podsGone) throw new Error('the operator Pods did not go');
      await new Promise((r) => setTimeout(r, 1000));
    }
    const deadline = Date.now() + 180_000;
    while (
      kubectl(['-n', NS, 'get', 'jobs', '-l', sel, '-o', 'jsonpath={.items[*].status.succeeded}']).trim() !==
      '1'
    ) {
      if (Date.now() > deadline) throw new Error('the migrate Job did not succeed');
      await new Promise((r) => setTimeout(r, 1000));
    }
    kubectl(['-n', NS, 'delete', 'jobs', '-l', sel, '--wait=true', '--cascade=foreground']);
  } finally {
    kubectl(['-n', opNs, 'scale', deploy, `--replicas=${replicas}`]);
  }
  const dm = await waitForPhase(NS, 'vanished', ['Succeeded', 'Failed', 'RolledBack', 'Blocked'], 600_000);
  expect({ phase: dm.status?.phase, lastError: dm.status?.lastError }).toEqual({
    phase: 'Succeeded',
    lastError: undefined,
  });
  await withDb(db, async (c) => {
    expect((await c.query('SELECT name FROM migrations ORDER BY id')).rows.map((r) => r.name)).toEqual([
      'CreateA1750000000000',
      'SlowB1750000001000',
    ]);
    const up = await c.query("SELECT count(*)::int AS n FROM dbmigrate_history WHERE direction = 'up'");
    expect(up.rows[0].n).toBe(2);
  });
}, 900_000);

test('the rehearsal on a copy of the rows: a constraint 3 rows violate is Blocked before production; with the rows fixed it Succeeds with expected durations and an ETA', async () => {
  const db = 'e2e_rehearsal';
  cleanup.push(db);
  await freshDatabase(db);
  await withDb(db, async (c) => {
    await c.query('CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL)');
    await c.query(
      'INSERT INTO orders SELECT g, CASE WHEN g IN (7, 70, 700) THEN 0 ELSE 1 END FROM generate_series(1, 1000) g',
    );
  });
  const NAME = 'PositiveQty1730000000000';
  apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'rehearsal-migrations', namespace: NS },
    data: {
      '1730000000000-PositiveQty.mjs': migrationFile(
        NAME,
        'ALTER TABLE orders ADD CONSTRAINT orders_qty_positive CHECK (qty > 0)',
        'ALTER TABLE orders DROP CONSTRAINT orders_qty_positive',
      ),
    },
  });
  const resource = databaseMigration(NS, 'rehearsal', db, {
    configMapRef: { name: 'rehearsal-migrations' },
    transactionMode: 'each',
  }) as { spec: { timeouts: Record<string, number> } };
  apply(resource);
  type Status = {
    plan?: {
      blocking?: string[];
      findings?: { rule: string; message: string }[];
      rehearsal?: { onData: boolean; expectedDurationsMs: Record<string, number> };
    };
    expectedMigratedBy?: string;
  };
  const blocked = await waitForPhase(NS, 'rehearsal', ['Blocked', 'Succeeded', 'Failed']);
  const st = blocked.status as Status;
  expect(blocked.status?.phase).toBe('Blocked');
  expect(st.plan?.blocking).toEqual([`${NAME}: rehearsal-failed`]);
  expect(st.plan?.findings?.find((f) => f.rule === 'rehearsal-failed')?.message).toMatch(/23514/);
  expect(st.plan?.rehearsal?.onData).toBe(true);
  // The target: the same rows, no constraint, nothing applied (no backup was even taken).
  await withDb(db, async (c) => {
    expect(Number((await c.query('SELECT count(*) AS n FROM orders WHERE qty = 0')).rows[0].n)).toBe(3);
    expect(
      (await c.query(`SELECT 1 FROM pg_constraint WHERE conname = 'orders_qty_positive'`)).rowCount,
    ).toBe(0);
    expect((await c.query("SELECT to_regclass('public.migrations') AS t")).rows[0].t).toBeNull();
  });

  // The rows fixed, a new generation: the rehearsal passes and the run Succeeds.
  await withDb(db, (c) => c.query('UPDATE orders SET qty = 1 WHERE qty = 0'));
  apply({
    ...resource,
    spec: { ...resource.spec, timeouts: { ...resource.spec.timeouts, lockTimeoutSeconds: 11 } },
  });
  const done = await waitForPhase(NS, 'rehearsal', ['Succeeded', 'Failed', 'RolledBack', 'Restored']);
  expect(done.status?.phase).toBe('Succeeded');
  const ok = done.status as Status;
  expect(Object.keys(ok.plan?.rehearsal?.expectedDurationsMs ?? {})).toEqual([NAME]);
  expect(Date.parse(ok.expectedMigratedBy ?? '')).toBeGreaterThan(0);
  await withDb(db, async (c) =>
    expect(
      (await c.query(`SELECT 1 FROM pg_constraint WHERE conname = 'orders_qty_positive'`)).rowCount,
    ).toBe(1),
  );
}, 600_000);
