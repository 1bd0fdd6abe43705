import { appliedNames, createDatabase, migrationsDir, runMigrator, tableExists, withDb } from './helpers.js';

const BASE = [
  'CreateCatalog1700000000000',
  'AddProductAttributes1700000001000',
  'SeedProductCategories1700000002000',
  'CreateAuditLog1700000003000',
];

// The jest project's testTimeout does not reach per-project runs: each test says it.
const T = 180_000;

describe('migrator migrate', () => {
  it(
    'applies the seed examples (ESM, CommonJS, a typeorm import, CREATE INDEX CONCURRENTLY) and records history',
    async () => {
      const db = await createDatabase('seed');
      const dir = migrationsDir('base', 'concurrent');
      const run = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        TRANSACTION_MODE: 'each',
        MIGRATION_AUTHOR: 'ns/app@3.1',
        VERIFY_QUERIES: JSON.stringify([
          `SELECT count(*) = 4 FROM product_categories`,
          `SELECT bool_and(attributes = '{}'::jsonb) FROM product_variants`,
        ]),
      });
      expect(run.result.error).toBeUndefined();
      expect(run.code).toBe(0);
      expect(run.result.ok).toBe(true);
      expect(run.result.step).toBe('migrate');
      expect(run.result.migrations?.map((m) => m.name)).toEqual([
        ...BASE,
        'AddSkuIndexConcurrently1700000006000',
      ]);
      for (const m of run.result.migrations ?? []) {
        expect(m.outcome).toBe('applied');
        expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(run.result.verify).toEqual({ pending: [], problems: [] });
      expect(run.result.usage?.maxRssKiB).toBeGreaterThan(0);
      expect(run.raw.length).toBeLessThan(4096);
      expect(await appliedNames(db)).toEqual([...BASE, 'AddSkuIndexConcurrently1700000006000']);
      await withDb(db, async (c) => {
        const col = await c.query(
          `SELECT data_type, is_nullable, column_default FROM information_schema.columns WHERE table_name = 'product_variants' AND column_name = 'attributes'`,
        );
        expect(col.rows[0]).toEqual({ data_type: 'jsonb', is_nullable: 'NO', column_default: `'{}'::jsonb` });
        const idx = await c.query(
          `SELECT indisvalid FROM pg_index WHERE indexrelid = 'product_variants_sku_idx'::regclass`,
        );
        expect(idx.rows[0]).toEqual({ indisvalid: true });
        const hist = await c.query(
          `SELECT name, checksum, direction, applied_by, transaction_mode FROM dbmigrate_history ORDER BY id`,
        );
        // The transaction = false migration's start is recorded (committed) before it runs.
        expect(hist.rows.map((r) => `${r.direction} ${r.name}`)).toEqual([
          ...BASE.map((n) => `up ${n}`),
          'started AddSkuIndexConcurrently1700000006000',
          'up AddSkuIndexConcurrently1700000006000',
        ]);
        expect(hist.rows.every((r) => r.applied_by === 'ns/app@3.1' && r.transaction_mode === 'each')).toBe(
          true,
        );
        expect(hist.rows.filter((r) => r.direction === 'up').map((r) => r.checksum)).toEqual(
          run.result.migrations?.map((m) => m.checksum),
        );
      });
      // A second run finds nothing to do and still verifies.
      const again = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        TRANSACTION_MODE: 'each',
      });
      expect(again.code).toBe(0);
      expect(again.result.migrations).toEqual([]);
      // Logs are pino JSON lines.
      for (const line of again.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    },
    T,
  );

  it.each([
    ['all', [] as string[]],
    ['each', BASE],
    ['none', BASE],
  ])(
    'leaves a clean migration boundary when a migration fails (transaction mode %s)',
    async (mode, expected) => {
      const db = await createDatabase(`fail_${mode}`);
      const run = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base', 'failing'),
        TRANSACTION_MODE: mode,
      });
      expect(run.code).not.toBe(0);
      expect(run.result.ok).toBe(false);
      expect(run.result.error).toEqual({
        message: 'check constraint "price_negative" of relation "product_variants" is violated by some row',
        code: '23514',
        migration: 'AddPriceCheck1700000004000',
        statement: 'ALTER TABLE "product_variants" ADD CONSTRAINT "price_negative" CHECK ("price" < 0)',
      });
      expect(await appliedNames(db)).toEqual(expected);
      expect(run.result.migrations?.filter((m) => m.outcome === 'applied').map((m) => m.name)).toEqual(
        expected,
      );
      expect(run.result.migrations?.at(-1)).toMatchObject({
        name: 'AddPriceCheck1700000004000',
        outcome: 'failed',
      });
      // Nothing of the failed migration or after it; in "all" nothing at all.
      expect(await tableExists(db, 'after_failure')).toBe(false);
      expect(await tableExists(db, 'products')).toBe(mode !== 'all');
      await withDb(db, async (c) => {
        const con = await c.query(`SELECT 1 FROM pg_constraint WHERE conname = 'price_negative'`);
        expect(con.rowCount).toBe(0);
        const hist = await c.query(`SELECT name FROM dbmigrate_history WHERE direction = 'up' ORDER BY id`);
        expect(hist.rows.map((r) => r.name)).toEqual(expected);
        // Without a transaction each migration's start is on record first; the failed one has no "up".
        const started = await c.query(
          `SELECT name FROM dbmigrate_history WHERE direction = 'started' ORDER BY id`,
        );
        expect(started.rows.map((r) => r.name)).toEqual(
          mode === 'none' ? [...BASE, 'AddPriceCheck1700000004000'] : [],
        );
      });
    },
    T,
  );

  it(
    "widens an older history table's direction CHECK so a start can be recorded",
    async () => {
      const db = await createDatabase('oldhist');
      await withDb(db, (c) =>
        c.query(`CREATE TABLE dbmigrate_history (
          id bigserial PRIMARY KEY, name text NOT NULL, checksum text,
          direction text NOT NULL CHECK (direction IN ('up', 'down')),
          applied_at timestamptz NOT NULL DEFAULT now(), applied_by text, duration_ms integer, transaction_mode text)`),
      );
      const run = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base', 'concurrent'),
        TRANSACTION_MODE: 'each',
      });
      expect(run.result.error).toBeUndefined();
      await withDb(db, async (c) => {
        const r = await c.query(
          `SELECT count(*)::int AS n FROM dbmigrate_history WHERE direction = 'started'`,
        );
        expect(r.rows[0]).toEqual({ n: 1 });
        const checks = await c.query(
          `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'dbmigrate_history'::regclass AND contype = 'c'`,
        );
        expect(checks.rows).toHaveLength(1);
        expect(checks.rows[0].def).toContain('started');
      });
    },
    T,
  );

  it(
    'refuses a transaction = false migration in transaction mode all, before changing anything',
    async () => {
      const db = await createDatabase('allcic');
      const run = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base', 'concurrent'),
        TRANSACTION_MODE: 'all',
      });
      expect(run.code).not.toBe(0);
      expect(run.result.error?.message).toMatch(/AddSkuIndexConcurrently1700000006000/);
      expect(await appliedNames(db)).toEqual([]);
    },
    T,
  );

  it(
    'applies each migration exactly once when two migrate runs start together',
    async () => {
      const db = await createDatabase('race');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base', 'slow'), TRANSACTION_MODE: 'each' };
      const [a, b] = await Promise.all([runMigrator('migrate', env), runMigrator('migrate', env)]);
      expect([a.code, b.code]).toEqual([0, 0]);
      const applied = [...(a.result.migrations ?? []), ...(b.result.migrations ?? [])]
        .map((m) => m.name)
        .sort();
      expect(applied).toEqual([...BASE, 'SlowBackfill1700000008000'].sort());
      // One run did everything, the other waited for the lock and found nothing pending.
      expect([a.result.migrations?.length, b.result.migrations?.length].sort()).toEqual([0, 5]);
      expect(a.stdout + b.stdout).toMatch(/waiting for the migration advisory lock/);
      expect(await appliedNames(db)).toHaveLength(5);
      await withDb(db, async (c) => {
        expect((await c.query('SELECT count(*)::int AS n FROM backfill_marker')).rows[0]).toEqual({ n: 1 });
        expect((await c.query('SELECT count(*)::int AS n FROM dbmigrate_history')).rows[0]).toEqual({ n: 5 });
      });
    },
    T,
  );

  it(
    'sets lock_timeout on the migration connection: a blocked ALTER fails with 55P03 instead of queueing',
    async () => {
      const db = await createDatabase('locktimeout');
      expect(
        (await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') })).code,
      ).toBe(0);
      await withDb(db, async (c) => {
        await c.query('BEGIN');
        await c.query('LOCK TABLE product_variants IN ACCESS SHARE MODE');
        const run = await runMigrator('migrate', {
          PGDATABASE: db,
          MIGRATIONS_DIR: migrationsDir('base', 'destructive'),
          TRANSACTION_MODE: 'each',
          LOCK_TIMEOUT_SECONDS: '1',
        });
        await c.query('ROLLBACK');
        expect(run.code).not.toBe(0);
        expect(run.result.error).toEqual({
          message: 'canceling statement due to lock timeout',
          code: '55P03',
          migration: 'DropLegacyData1700000007000',
          statement: 'ALTER TABLE "product_variants" DROP COLUMN "attributes"',
        });
      });
      expect(await appliedNames(db)).toEqual(BASE);
    },
    T,
  );

  it(
    'gives up on the advisory lock after ADVISORY_LOCK_WAIT_SECONDS',
    async () => {
      const db = await createDatabase('lockwait');
      const { lockKey } = await import('../../migrator-image/src/db.js');
      const { loadConfig } = await import('../../migrator-image/src/config.js');
      const key = lockKey(loadConfig({ PGHOST: 'x', PGDATABASE: db, PGUSER: 'x' }));
      await withDb(db, async (c) => {
        await c.query('SELECT pg_advisory_lock($1::bigint)', [key]);
        const run = await runMigrator('migrate', {
          PGDATABASE: db,
          MIGRATIONS_DIR: migrationsDir('base'),
          ADVISORY_LOCK_WAIT_SECONDS: '1',
        });
        expect(run.code).not.toBe(0);
        expect(run.result.error?.message).toMatch(/could not take the migration lock within 1s/);
      });
      expect(await appliedNames(db)).toEqual([]);
    },
    T,
  );
});
