// Database faults against a real PostgreSQL (Debian's binaries, started by this
// file on its own loopback port so it can stop and restart it): the migrator
// killed mid-statement, the server stopped mid-step, a lock held past
// lock_timeout, two migrators at once. Each case proves the database ends at a
// migration boundary that its migrations table describes, and computes the
// rows lost (the app's rows before vs after; it must be 0).
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { sidecarPath } from '../../migrator-image/src/commands/backup.js';
import { debianBinDir, startServer, type Server } from '../lib/postgres.js';
import {
  appliedNames,
  createDatabase,
  exitOf,
  historyNames,
  runMigrator,
  schemaFingerprint,
  startMigrator,
  tableChecksums,
  tempDir,
  waitForStatement,
  withDb,
  type RunResult,
} from '../migrator/helpers.js';
import { recordReliability, writeReliabilityDoc } from './reliability-report.js';

const T = 300_000;
const [LEDGER, TIER, SLOW, INDEX] = [
  'CreateLedger1800000000000',
  'AddCustomerTier1800000001000',
  'SlowLedgerCopy1800000002000',
  'IndexLedger1800000003000',
];
const ORDER = [LEDGER, TIER, SLOW, INDEX];
const MODES = ['all', 'each', 'none'] as const;
type Mode = (typeof MODES)[number];

// The set under test. SlowLedgerCopy's first statement both changes the schema
// and sleeps (FAULT_SLEEP_SECONDS), so a fault lands mid-statement; a statement
// that outlived its process would create ledger_copy after the process died.
const MIGRATIONS: Record<string, string> = {
  [`1800000000000-CreateLedger.js`]: `export class ${LEDGER} {
  async up(q) {
    await q.query('CREATE TABLE ledger (id int PRIMARY KEY, amount int NOT NULL)');
    await q.query('INSERT INTO ledger SELECT g, g % 97 FROM generate_series(1, 2000) g');
  }
  async down(q) { await q.query('DROP TABLE ledger'); }
}`,
  [`1800000001000-AddCustomerTier.js`]: `export class ${TIER} {
  async up(q) { await q.query("ALTER TABLE customers ADD COLUMN tier text NOT NULL DEFAULT 'basic'"); }
  async down(q) { await q.query('ALTER TABLE customers DROP COLUMN tier'); }
}`,
  [`1800000002000-SlowLedgerCopy.js`]: `export class ${SLOW} {
  async up(q) {
    const s = Number(process.env.FAULT_SLEEP_SECONDS ?? '0');
    await q.query('CREATE TABLE ledger_copy AS SELECT l.* FROM ledger l, pg_sleep(' + s + ')');
    await q.query('ALTER TABLE ledger_copy ADD PRIMARY KEY (id)');
  }
  async down(q) { await q.query('DROP TABLE ledger_copy'); }
}`,
  [`1800000003000-IndexLedger.js`]: `export class ${INDEX} {
  async up(q) { await q.query('CREATE INDEX ledger_amount_idx ON ledger (amount)'); }
  async down(q) { await q.query('DROP INDEX ledger_amount_idx'); }
}`,
};

/** What each migration leaves in the catalog: present iff the migration is applied. */
const OBJECT_OF: Record<string, string> = {
  [LEDGER]: `to_regclass('ledger') IS NOT NULL`,
  [TIER]: `EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'customers' AND column_name = 'tier')`,
  [SLOW]: `to_regclass('ledger_copy') IS NOT NULL`,
  [INDEX]: `to_regclass('ledger_amount_idx') IS NOT NULL`,
};

/** How PostgreSQL's stop reaches the migrator's sessions, by shutdown mode. */
const STOPPED: Record<'fast' | 'immediate', RegExp> = {
  fast: /^terminating connection due to administrator command$/,
  immediate: /^Connection terminated unexpectedly$/,
};

let server: Server;

beforeAll(async () => {
  server = await startServer({ bin: debianBinDir(), prefix: 'dbm-faults-pg-', crashSafe: true });
  // The migrator helpers read the server from PG*, as the migrator project's globalSetup sets them.
  Object.assign(process.env, server.env);
}, T);

afterAll(() => {
  server?.stop();
  writeReliabilityDoc();
});

function migrationsDir(): string {
  const dir = tempDir('fault-migrations');
  for (const [file, text] of Object.entries(MIGRATIONS)) writeFileSync(path.join(dir, file), text);
  return dir;
}

/** A database holding the app's data: 5000 customers (the migrations only add a column to them). */
async function appDatabase(prefix: string): Promise<string> {
  const db = await createDatabase(prefix);
  await withDb(db, async (c) => {
    await c.query('CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL)');
    await c.query(
      `INSERT INTO customers SELECT g, 'c' || g || '@example.test' FROM generate_series(1, 5000) g`,
    );
  });
  return db;
}

type Snapshot = Map<string, { cols: string[]; rows: Map<string, number> }>;
const BOOKKEEPING = new Set(['public.migrations', 'public.dbmigrate_history']);

/** Every app row (by its content) of every user table, migrator bookkeeping aside. */
async function snapshot(db: string): Promise<Snapshot> {
  return withDb(db, async (c) => {
    const out: Snapshot = new Map();
    const tables = await c.query<{ t: string; cols: string[] }>(
      `SELECT format('%I.%I', n.nspname, k.relname) AS t,
              array_agg(quote_ident(a.attname) ORDER BY a.attnum) AS cols
         FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
         JOIN pg_attribute a ON a.attrelid = k.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE k.relkind = 'r' AND n.nspname = 'public' GROUP BY 1`,
    );
    for (const { t, cols } of tables.rows) {
      if (BOOKKEEPING.has(t)) continue;
      out.set(t, { cols, rows: await rowHashes(c, t, cols) });
    }
    return out;
  });
}

async function rowHashes(c: pg.Client, table: string, cols: string[]): Promise<Map<string, number>> {
  const r = await c.query<{ h: string; n: number }>(
    `SELECT md5(ROW(${cols.join(', ')})::text) AS h, count(*)::int AS n FROM ${table} GROUP BY 1`,
  );
  return new Map(r.rows.map((x) => [x.h, x.n]));
}

/** Rows of `before` missing from the database now (same columns; a dropped table or column loses them all). */
async function rowsLost(db: string, before: Snapshot): Promise<number> {
  return withDb(db, async (c) => {
    let lost = 0;
    for (const [table, { cols, rows }] of before) {
      const total = [...rows.values()].reduce((a, b) => a + b, 0);
      const now = await rowHashes(c, table, cols).catch(() => undefined);
      if (!now) {
        lost += total;
        continue;
      }
      for (const [h, n] of rows) lost += Math.max(0, n - (now.get(h) ?? 0));
    }
    return lost;
  });
}

/**
 * The migrations table against the catalog: applied is a prefix of ORDER, each
 * name once, the history agrees, and exactly the applied migrations' objects exist.
 */
async function expectBoundary(db: string): Promise<string[]> {
  const applied = await appliedNames(db);
  const present = await withDb(db, async (c) => {
    const out: string[] = [];
    for (const name of ORDER)
      if ((await c.query<{ ok: boolean }>(`SELECT ${OBJECT_OF[name]} AS ok`)).rows[0]?.ok) out.push(name);
    return out;
  });
  expect({ applied, present }).toEqual({ applied: ORDER.slice(0, applied.length), present: applied });
  // The history agrees: the newest row of each migration says "up" exactly for the applied ones
  // (a restore keeps the rows written since its backup and adds "down" rows for what it undid).
  const netUp = await withDb(db, async (c) =>
    (
      await c.query<{ name: string }>(
        `SELECT name FROM (SELECT DISTINCT ON (name) name, direction, id FROM dbmigrate_history ORDER BY name, id DESC) h
          WHERE direction = 'up' ORDER BY id`,
      )
    ).rows.map((r) => r.name),
  );
  expect(netUp).toEqual(applied);
  return applied;
}

/** Backends still connected to `db` other than ours, counted after the server had `ms` to notice. */
async function backendsAfter(db: string, ms: number): Promise<Array<{ query: string; state: string }>> {
  await new Promise((r) => setTimeout(r, ms));
  return withDb('postgres', async (c) => {
    const r = await c.query<{ query: string; state: string }>(
      `SELECT query, state FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [db],
    );
    return r.rows;
  });
}

async function advisoryLocks(db: string): Promise<number> {
  return withDb('postgres', async (c) => {
    const r = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND d.datname = $1`,
      [db],
    );
    return r.rows[0]?.n ?? 0;
  });
}

/** Waits until a migrator backend in `db` waits on a lock (the test holds it). */
async function waitForLockWait(db: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withDb('postgres', async (c) => {
    for (;;) {
      const r = await c.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'dbmigrate-migrator-%' AND wait_event_type = 'Lock'`,
        [db],
      );
      if ((r.rowCount ?? 0) > 0) return;
      if (Date.now() > deadline) throw new Error(`no migrator backend waiting on a lock in ${db}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  });
}

/** A session of the test holding `lockSql` in an open transaction; survives the server going away. */
async function holdLock(db: string, lockSql: string): Promise<pg.Client> {
  const c = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: db,
  });
  c.on('error', () => undefined); // the server stopping under it is the point of some cases
  await c.connect();
  await c.query('BEGIN');
  await c.query(lockSql);
  return c;
}

function envFor(db: string, mode: Mode, extra: Record<string, string> = {}): Record<string, string> {
  return { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir(), TRANSACTION_MODE: mode, ...extra };
}

/** A retry that must find the lock free at once and apply exactly the rest. */
async function expectRetryAppliesRest(db: string, mode: Mode, kept: string[]): Promise<void> {
  const retry = await runMigrator('migrate', envFor(db, mode, { ADVISORY_LOCK_WAIT_SECONDS: '0' }));
  expect(retry.result.error).toBeUndefined();
  expect(retry.code).toBe(0);
  expect(retry.result.migrations?.map((m) => m.name)).toEqual(ORDER.filter((n) => !kept.includes(n)));
  expect(await expectBoundary(db)).toEqual(ORDER);
  // Each migration applied exactly once over the failed run and the retry.
  expect(await historyNames(db)).toEqual(ORDER);
}

const KEPT: Record<Mode, string[]> = { all: [], each: [LEDGER, TIER], none: [LEDGER, TIER] };

describe('database faults', () => {
  it.each(MODES)(
    'migrate SIGKILLed mid-statement (mode %s): at a boundary, no backend outlives it, the retry applies the rest once',
    async (mode) => {
      const db = await appDatabase(`kill_${mode}`);
      const before = await snapshot(db);
      const { child, done } = startMigrator('migrate', envFor(db, mode, { FAULT_SLEEP_SECONDS: '30' }));
      done.catch(() => undefined); // a SIGKILLed migrator writes no result
      const exited = exitOf(child);
      await waitForStatement(db, '%pg_sleep%');
      child.kill('SIGKILL');
      expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
      // The server must end the killed process's statement (and its locks) itself, within seconds,
      // not when the 30 s statement would have finished.
      expect(await backendsAfter(db, 2500)).toEqual([]);
      expect(await advisoryLocks(db)).toBe(0);
      expect(await expectBoundary(db)).toEqual(KEPT[mode]);
      // Outside a transaction nothing rolls the killed migration back: its start is on record, and
      // verify names it as possibly half-applied until a retry records it applied.
      const started = await withDb(db, async (c) =>
        (
          await c.query<{ name: string }>(
            `SELECT name FROM (SELECT DISTINCT ON (name) name, direction FROM dbmigrate_history ORDER BY name, id DESC) h
              WHERE direction = 'started'`,
          )
        ).rows.map((r) => r.name),
      );
      expect(started).toEqual(mode === 'none' ? [SLOW] : []);
      const verified = await runMigrator('verify', envFor(db, mode));
      const halfApplied = (verified.result.verify?.problems ?? []).filter((p) =>
        p.includes('may be half-applied'),
      );
      expect(halfApplied).toHaveLength(mode === 'none' ? 1 : 0);
      const lostAtKill = await rowsLost(db, before);
      await expectRetryAppliesRest(db, mode, KEPT[mode]);
      const lost = lostAtKill + (await rowsLost(db, before));
      recordReliability({
        fault: `migrator SIGKILL mid-statement (${SLOW})`,
        run: `migrate (${mode})`,
        injected: 1,
        outcome: `boundary ${KEPT[mode].length}/${ORDER.length}; retry applied the rest once`,
        rowsLost: lost,
        detail: 'no backend outlived the process; advisory lock free at once',
      });
      expect(lost).toBe(0);
    },
    T,
  );

  it.each([
    ['all', 'immediate'],
    ['each', 'fast'],
    ['none', 'immediate'],
  ] as const)(
    'PostgreSQL stopped mid-migrate (mode %s, -m %s): ok:false naming the migration, boundary kept, retry completes',
    async (mode, how) => {
      const db = await appDatabase(`stop_${mode}`);
      const before = await snapshot(db);
      const { done } = startMigrator('migrate', envFor(db, mode, { FAULT_SLEEP_SECONDS: '30' }));
      await waitForStatement(db, '%pg_sleep%');
      server.halt(how);
      let run: RunResult;
      try {
        run = await done;
      } finally {
        server.resume();
      }
      expect(run.code).toBe(1);
      expect(run.result.ok).toBe(false);
      expect(run.result.error).toMatchObject({ migration: SLOW });
      expect(run.result.error?.message).toMatch(STOPPED[how]);
      expect(await expectBoundary(db)).toEqual(KEPT[mode]);
      const lostAtStop = await rowsLost(db, before);
      await expectRetryAppliesRest(db, mode, KEPT[mode]);
      const lost = lostAtStop + (await rowsLost(db, before));
      recordReliability({
        fault: `PostgreSQL stop -m ${how} mid-statement (${SLOW})`,
        run: `migrate (${mode})`,
        injected: 1,
        outcome: `ok:false "${run.result.error?.message}"; boundary ${KEPT[mode].length}/${ORDER.length}; retry completed`,
        rowsLost: lost,
      });
      expect(lost).toBe(0);
    },
    T,
  );

  it(
    'PostgreSQL stopped during backup: ok:false, no archive left, the retried backup completes and verifies',
    async () => {
      const db = await appDatabase('stop_backup');
      expect((await runMigrator('migrate', envFor(db, 'each'))).code).toBe(0);
      const before = await snapshot(db);
      const sums = await tableChecksums(db);
      const backups = tempDir('fault-backups');
      const env = { PGDATABASE: db, BACKUP_DIR: backups, BACKUP_ID: 'b1' };
      // The backup's snapshot transaction waits on the test's lock: the stop lands mid-backup.
      const holder = await holdLock(db, 'LOCK TABLE customers IN ACCESS EXCLUSIVE MODE');
      const { done } = startMigrator('backup', env);
      await waitForLockWait(db);
      server.halt('fast');
      let run: RunResult;
      try {
        run = await done;
      } finally {
        server.resume();
        await holder.end().catch(() => undefined);
      }
      expect(run.code).toBe(1);
      expect(run.result.ok).toBe(false);
      expect(run.result.error?.message).toMatch(STOPPED.fast);
      expect(readdirSync(backups)).toEqual([]);
      expect(await tableChecksums(db)).toEqual(sums);

      const retry = await runMigrator('backup', env);
      expect(retry.result.error).toBeUndefined();
      expect(retry.code).toBe(0);
      expect(retry.result.backup).toMatchObject({ verified: true, verifiedBy: 'restore' });
      expect(readdirSync(backups).sort()).toEqual(
        ['b1.dump', path.basename(sidecarPath(path.join(backups, 'b1.dump')))].sort(),
      );
      const lost = await rowsLost(db, before);
      recordReliability({
        fault: 'PostgreSQL stop -m fast during backup',
        run: 'backup',
        injected: 1,
        outcome: `ok:false "${run.result.error?.message}"; no archive left; retry verified by restore`,
        rowsLost: lost,
      });
      expect(lost).toBe(0);
    },
    T,
  );

  it(
    'PostgreSQL stopped during restore: ok:false, the database exactly as before the restore, the retry restores',
    async () => {
      const db = await appDatabase('stop_restore');
      const backups = tempDir('fault-backups');
      // Backup after two migrations, then the other two and more app rows: the restore has work to undo.
      const dir = migrationsDir();
      const two = tempDir('fault-migrations-two');
      for (const [file, text] of Object.entries(MIGRATIONS).slice(0, 2))
        writeFileSync(path.join(two, file), text);
      expect((await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: two })).code).toBe(0);
      const b = await runMigrator('backup', { PGDATABASE: db, BACKUP_DIR: backups, BACKUP_ID: 'r1' });
      expect(b.code).toBe(0);
      const atBackup = await snapshot(db);
      expect((await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: dir })).code).toBe(0);
      await withDb(db, (c) => c.query(`INSERT INTO ledger VALUES (100001, 1)`));
      const before = await snapshot(db);
      const sums = await tableChecksums(db);
      const schema = await schemaFingerprint(db);

      // psql's DROP of customers waits on the test's lock inside the restore's one transaction.
      const holder = await holdLock(db, 'SELECT count(*) FROM customers');
      const env = { PGDATABASE: db, BACKUP_PATH: b.result.backup!.path };
      const { done } = startMigrator('restore', env);
      await waitForLockWait(db);
      server.halt('immediate');
      let run: RunResult;
      try {
        run = await done;
      } finally {
        server.resume();
        await holder.end().catch(() => undefined);
      }
      expect(run.code).toBe(1);
      expect(run.result.ok).toBe(false);
      expect(run.result.error?.message).toBe(
        'restore rolled back, the database is unchanged: psql failed: connection to server was lost',
      );
      expect(await tableChecksums(db)).toEqual(sums);
      expect(await schemaFingerprint(db)).toBe(schema);
      expect(await expectBoundary(db)).toEqual(ORDER);
      const lostAtStop = await rowsLost(db, before);

      const retry = await runMigrator('restore', env);
      expect(retry.result.error).toBeUndefined();
      expect(retry.code).toBe(0);
      expect(await expectBoundary(db)).toEqual([LEDGER, TIER]);
      // After the restore the backup's rows are all there (rows written since are undone by design).
      const lost = lostAtStop + (await rowsLost(db, atBackup));
      recordReliability({
        fault: 'PostgreSQL stop -m immediate during restore',
        run: 'restore',
        injected: 1,
        outcome: `ok:false "${run.result.error?.message}"; database unchanged (catalog + checksums); retry restored`,
        rowsLost: lost,
      });
      expect(lost).toBe(0);
    },
    T,
  );

  it(
    'a lock held past lock_timeout: 55P03 naming the migration, nothing applied (mode all), advisory lock free',
    async () => {
      const mode = 'all';
      const db = await appDatabase(`lock_${mode}`);
      const before = await snapshot(db);
      const holder = await holdLock(db, 'SELECT count(*) FROM customers');
      let run: RunResult;
      try {
        run = await runMigrator('migrate', envFor(db, mode, { LOCK_TIMEOUT_SECONDS: '1' }));
        // Checked while the other session still holds its lock: the migrator let go of everything.
        expect(await advisoryLocks(db)).toBe(0);
      } finally {
        await holder.end();
      }
      expect(run.code).toBe(1);
      expect(run.result.error).toMatchObject({
        message: 'canceling statement due to lock timeout',
        code: '55P03',
        migration: TIER,
      });
      const kept: string[] = [];
      expect(await expectBoundary(db)).toEqual(kept);
      await expectRetryAppliesRest(db, mode, kept);
      const lost = await rowsLost(db, before);
      recordReliability({
        fault: 'ACCESS SHARE held on customers past lock_timeout (1 s)',
        run: `migrate (${mode})`,
        injected: 1,
        outcome: `55P03 naming ${TIER}; boundary ${kept.length}/${ORDER.length}; retry took the advisory lock at once`,
        rowsLost: lost,
      });
      expect(lost).toBe(0);
    },
    T,
  );

  it(
    'first run on a fresh database (no history table at the backup), release killed half-way in each mode: the restore ends verified at the backup',
    async () => {
      const db = await appDatabase('first_restore');
      const before = await snapshot(db);
      const b = await runMigrator('backup', {
        PGDATABASE: db,
        BACKUP_DIR: tempDir('backups'),
        BACKUP_ID: 'f1',
      });
      expect(b.code).toBe(0);
      const { child, done } = startMigrator('migrate', envFor(db, 'each', { FAULT_SLEEP_SECONDS: '30' }));
      done.catch(() => undefined);
      const exited = exitOf(child);
      await waitForStatement(db, '%pg_sleep%');
      child.kill('SIGKILL');
      await exited;
      expect(await expectBoundary(db)).toEqual(KEPT.each);
      const r = await runMigrator('restore', { PGDATABASE: db, BACKUP_PATH: b.result.backup!.path });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.verify?.problems).toEqual([]);
      expect(await expectBoundary(db)).toEqual([]);
      const lost = await rowsLost(db, before);
      recordReliability({
        fault: `migrator SIGKILL mid-statement on a database's first run (${SLOW})`,
        run: 'migrate (each), then restore',
        injected: 1,
        outcome: `restore verified; boundary 0/${ORDER.length}; history kept with ${KEPT.each.length} down rows`,
        rowsLost: lost,
        detail: 'the backup predates the history and migrations tables',
      });
      expect(lost).toBe(0);
    },
    T,
  );

  it(
    'two migrators at once on one database: the advisory lock serializes them, each migration applied once',
    async () => {
      const db = await appDatabase('twice');
      const before = await snapshot(db);
      const env = envFor(db, 'each', { FAULT_SLEEP_SECONDS: '3' });
      const runs = await Promise.all([runMigrator('migrate', env), runMigrator('migrate', env)]);
      for (const r of runs) {
        expect(r.result.error).toBeUndefined();
        expect(r.code).toBe(0);
      }
      const applying = runs.map(applyingIntervals);
      const all = applying.flat().sort((a, b) => a.from - b.from);
      for (let i = 1; i < all.length; i++) expect(all[i]!.from).toBeGreaterThanOrEqual(all[i - 1]!.to);
      expect(all.map((x) => x.name)).toEqual(ORDER);
      // They did run at once: one of them waited for the lock the other held.
      expect(runs.filter((r) => r.stdout.includes('waiting for the migration advisory lock'))).toHaveLength(
        1,
      );
      expect(await expectBoundary(db)).toEqual(ORDER);
      expect(await historyNames(db)).toEqual(ORDER);
      const lost = await rowsLost(db, before);
      recordReliability({
        fault: 'two migrate processes started at once',
        run: 'migrate (each) x2',
        injected: 1,
        outcome: `applied ${runs.map((r) => r.result.migrations?.length ?? 0).join(' + ')}; intervals disjoint; one waited for the lock`,
        rowsLost: lost,
      });
      expect(lost).toBe(0);
    },
    T,
  );
});

/** Per migration, from the migrator's log: when it started applying and when it was applied. */
function applyingIntervals(run: RunResult): Array<{ name: string; from: number; to: number }> {
  const starts = new Map<string, number>();
  const out: Array<{ name: string; from: number; to: number }> = [];
  for (const line of run.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { msg?: string; migration?: string; time?: string };
    if (!e.migration || !e.time) continue;
    if (e.msg === 'applying migration') starts.set(e.migration, Date.parse(e.time));
    if (e.msg === 'migration applied')
      out.push({ name: e.migration, from: starts.get(e.migration) ?? NaN, to: Date.parse(e.time) });
  }
  return out;
}
