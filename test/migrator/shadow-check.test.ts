// The check runs the plan on a shadow database: the target keeps its storage,
// its size and its WAL, and sees no lock stronger than a schema dump's, while
// the plan still reports the rewrite with the target's real size; down()s are
// proven by comparing catalogs; compatibility queries run on the migrated schema.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { fullResultFromLog, type Finding, type JobResult, type ShadowRecord } from '../../crds/job-result.js';
import {
  createDatabase,
  migrationsDir,
  ROOT,
  runMigrator,
  schemaFingerprint,
  tempDir,
  withDb,
} from './helpers.js';

const T = 240_000;

/** A migrations directory from inline sources: [class name, up SQL[], down SQL[]]. */
function inlineMigrations(list: Array<[string, string[], string[]]>): string {
  const dir = tempDir('shadow-migrations');
  list.forEach(([name, up, down], i) => {
    const body = (sqls: string[]) => sqls.map((q) => `    await qr.query(${JSON.stringify(q)});`).join('\n');
    writeFileSync(
      path.join(dir, `${1800000000000 + i * 1000}-${name}.js`),
      `export class ${name}${1800000000000 + i * 1000} {\n  async up(qr) {\n${body(up)}\n  }\n  async down(qr) {\n${body(down)}\n  }\n}\n`,
    );
  });
  return dir;
}

interface CheckLog {
  findings: Finding[];
  revertFindings: Finding[];
  shadow: ShadowRecord;
}

/** The check's full result line: every finding and the shadow's record, untruncated. */
function checkLog(stdout: string): CheckLog {
  const full = fullResultFromLog(stdout);
  if (!full) throw new Error(`no full result line in:\n${stdout.slice(-2000)}`);
  const plan = (JSON.parse(full) as JobResult).plan;
  if (!plan?.shadow) throw new Error(`the full result has no plan.shadow: ${full.slice(0, 2000)}`);
  return { findings: plan.findings, revertFindings: plan.revertFindings ?? [], shadow: plan.shadow };
}

const rulesOf = (fs: Finding[]) =>
  fs.map((f) => `${f.migration.replace(/\d+$/, '')}:${f.category}:${f.rule}`);

describe('check on a shadow database', () => {
  it(
    'leaves a 2M-row target untouched by a type change and a backfill, and still reports the rewrite with its real size',
    async () => {
      const db = await createDatabase('shadow_big');
      await withDb(db, async (c) => {
        await c.query(`CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL, note text)`);
        await c.query(`INSERT INTO orders SELECT g, g % 1000, NULL FROM generate_series(1, 2000000) g`);
        await c.query(`ANALYZE orders`);
      });
      const dir = inlineMigrations([
        [
          'WidenAmount',
          [`ALTER TABLE orders ALTER COLUMN amount TYPE bigint`],
          [`ALTER TABLE orders ALTER COLUMN amount TYPE integer`],
        ],
        [
          'BackfillNote',
          [`UPDATE orders SET note = 'n/a' WHERE note IS NULL`],
          [`UPDATE orders SET note = NULL`],
        ],
      ]);
      const storage = (c: pg.Client) =>
        c.query<{ node: string; bytes: string; lsn: string }>(
          `SELECT relfilenode::text AS node, pg_relation_size('orders')::text AS bytes, pg_current_wal_lsn()::text AS lsn
             FROM pg_class WHERE oid = 'orders'::regclass`,
        );
      const before = (await withDb(db, storage)).rows[0]!;
      const schema = await schemaFingerprint(db);

      // Watch every lock the migrator's sessions (and its pg_dump) take on the target's table.
      const seen = new Set<string>();
      let watching = true;
      const watcher = withDb(db, async (c) => {
        while (watching) {
          const r = await c.query<{ mode: string }>(
            `SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE a.application_name LIKE 'dbmigrate-migrator-%' AND l.locktype = 'relation'
                AND l.relation = 'orders'::regclass`,
          );
          for (const row of r.rows) seen.add(row.mode);
          await new Promise((res) => setTimeout(res, 10));
        }
      });
      const run = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        TRANSACTION_MODE: 'each',
      });
      watching = false;
      await watcher;
      expect(run.result.error).toBeUndefined();
      expect(run.code).toBe(0);

      const after = (await withDb(db, storage)).rows[0]!;
      expect(after.node).toBe(before.node);
      expect(after.bytes).toBe(before.bytes);
      const walBytes = await withDb(db, async (c) =>
        Number(
          (await c.query(`SELECT pg_wal_lsn_diff($1, $2)::text AS d`, [after.lsn, before.lsn])).rows[0].d,
        ),
      );
      // The rewrite alone would write the table again (~100 MB of WAL); a schema dump writes nothing.
      expect(walBytes).toBeLessThan(1024 * 1024);
      expect([...seen].filter((m) => m !== 'AccessShareLock')).toEqual([]);
      expect(await schemaFingerprint(db)).toBe(schema);
      expect(
        await withDb(
          db,
          async (c) =>
            (await c.query(`SELECT count(*)::int AS n FROM orders WHERE note IS NOT NULL`)).rows[0].n,
        ),
      ).toBe(0);

      const log = checkLog(run.stdout);
      const rewrite = log.findings.find((f) => f.rule === 'traced-table-rewrite');
      expect(rewrite).toMatchObject({
        category: 'locking',
        severity: 'error',
        migration: expect.stringMatching(/^WidenAmount/),
      });
      expect(rewrite?.message).toMatch(
        /public\.orders \(2\.0M rows, \d+\.\d MB on the target\) under ACCESS EXCLUSIVE/,
      );
      expect(
        log.findings.find((f) => f.rule === 'traced-blocking-lock' && /^BackfillNote/.test(f.migration)),
      ).toBeUndefined();
      expect(log.shadow).toMatchObject({ reversibility: 'proven', shadowMajor: expect.any(Number) });
      expect(log.shadow.statementsTraced).toBe(2);
    },
    T,
  );

  it(
    "allows the seed's ADD COLUMN ... NOT NULL DEFAULT '{}' and reports its down() as destructive for a revert",
    async () => {
      const db = await createDatabase('shadow_seed');
      const first = migrationsDir('base');
      // Apply only CreateCatalog: AddProductAttributes (the seed's example) stays pending.
      await withDb(db, async () => undefined);
      const only = tempDir('first');
      const { readdirSync, copyFileSync } = await import('node:fs');
      for (const f of readdirSync(first).filter((f) => f.startsWith('1700000000000')))
        copyFileSync(path.join(first, f), path.join(only, f));
      expect((await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: only })).code).toBe(0);
      const run = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: first,
        SAFETY_BLOCK: 'destructive,dataLoss',
      });
      expect(run.result.error).toBeUndefined();
      expect(run.result.totals?.blocking).toBe(0);
      const log = checkLog(run.stdout);
      expect(rulesOf(log.findings).filter((r) => r.startsWith('AddProductAttributes'))).not.toEqual(
        expect.arrayContaining([expect.stringMatching(/:(destructive|dataLoss):/)]),
      );
      expect(rulesOf(log.revertFindings)).toContain('AddProductAttributes:destructive:drop-column');
      expect(log.revertFindings.find((f) => f.rule === 'drop-column')?.message).toMatch(
        /^down\(\): DROP COLUMN/,
      );
      expect(log.shadow.reversibility).toBe('proven');
    },
    T,
  );

  it(
    'finds a down() that leaves a different schema, one that runs nothing and one that fails, each by name',
    async () => {
      const db = await createDatabase('shadow_down');
      const dir = inlineMigrations([
        ['DownFails', [`CREATE TABLE a (id int)`], [`DROP TABLE no_such_table`]],
        ['DownEmpty', [`CREATE TABLE b (id int)`], []],
        [
          'DownPartial',
          [`ALTER TABLE a ADD COLUMN x int`, `ALTER TABLE a ADD COLUMN y int`],
          [`ALTER TABLE a DROP COLUMN x`],
        ],
        ['DownGood', [`CREATE INDEX a_id_idx ON a (id)`], [`DROP INDEX a_id_idx`]],
      ]);
      const schema = await schemaFingerprint(db);
      const run = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        TRANSACTION_MODE: 'each',
        SAFETY_BLOCK: 'irreversible',
      });
      expect(run.result.error).toBeUndefined();
      const log = checkLog(run.stdout);
      const irreversible = log.findings.filter((f) => f.category === 'irreversible');
      expect(irreversible.map((f) => f.migration.replace(/\d+$/, ''))).toEqual([
        'DownPartial',
        'DownEmpty',
        'DownFails',
      ]);
      expect(irreversible[0]?.message).toMatch(
        /leaves a different schema: extra column public\.a\.y integer/,
      );
      expect(irreversible[1]?.message).toMatch(/runs no SQL/);
      expect(irreversible[2]?.message).toMatch(/fails: .*no_such_table/);
      expect(run.result.totals?.blocking).toBe(3);
      expect(log.shadow.reversibility).toBe('failed');
      // The target saw none of it.
      expect(await schemaFingerprint(db)).toBe(schema);
    },
    T,
  );

  it(
    'runs the compatibility queries of the running app on the migrated schema',
    async () => {
      const db = await createDatabase('shadow_compat');
      await withDb(db, (c) => c.query(`CREATE TABLE products (id int PRIMARY KEY, name text)`));
      const dir = inlineMigrations([
        [
          'RenameName',
          [`ALTER TABLE products RENAME COLUMN name TO title`],
          [`ALTER TABLE products RENAME COLUMN title TO name`],
        ],
      ]);
      const run = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        COMPATIBILITY_QUERIES: JSON.stringify([
          'SELECT id FROM products',
          'SELECT name FROM products WHERE id = 1',
        ]),
      });
      expect(run.result.error).toBeUndefined();
      const compat = checkLog(run.stdout).findings.filter((f) => f.rule === 'compatibility-query');
      expect(compat).toHaveLength(1);
      expect(compat[0]).toMatchObject({ category: 'backwardIncompatible', severity: 'error' });
      expect(compat[0]?.message).toMatch(
        /queries\[1\] fails after the migrations: column "name" does not exist/,
      );
    },
    T,
  );

  it(
    'runs on an external shadow server (spec.check.shadow): a fresh database there, dropped afterwards',
    async () => {
      const db = await createDatabase('shadow_ext');
      await withDb(db, (c) => c.query(`CREATE TABLE items (id int PRIMARY KEY, qty int)`));
      const dir = inlineMigrations([
        [
          'WidenQty',
          [`ALTER TABLE items ALTER COLUMN qty TYPE bigint`],
          [`ALTER TABLE items ALTER COLUMN qty TYPE int`],
        ],
      ]);
      const schema = await schemaFingerprint(db);
      const shadowDbs = () =>
        withDb('postgres', async (c) =>
          (await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'dbm_shadow_%'`)).rows.map(
            (r: { datname: string }) => r.datname,
          ),
        );
      const before = await shadowDbs();
      // The test server stands in for the external one: another database on it, never the target.
      const run = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        SHADOW_PGHOST: process.env.PGHOST,
        SHADOW_PGPORT: process.env.PGPORT,
        SHADOW_PGUSER: process.env.PGUSER,
        SHADOW_PGPASSWORD: process.env.PGPASSWORD,
        // A local server is never started: binaries that do not exist would fail it.
        SHADOW_PG_BIN_DIR: '/nonexistent',
      });
      expect(run.result.error).toBeUndefined();
      const log = checkLog(run.stdout);
      expect(log.shadow).toMatchObject({ external: true, reversibility: 'proven', schemaErrors: [] });
      expect(log.findings.map((f) => f.rule)).toContain('traced-table-rewrite');
      expect(await shadowDbs()).toEqual(before);
      expect(await schemaFingerprint(db)).toBe(schema);
      expect(run.stdout + run.stderr + run.raw).not.toContain(process.env.PGPASSWORD!);
    },
    T,
  );

  it(
    'refuses an external shadow server it cannot reach, naming it, without the password',
    async () => {
      const db = await createDatabase('shadow_ext_bad');
      await withDb(db, (c) => c.query(`CREATE TABLE items (id int PRIMARY KEY)`));
      const dir = inlineMigrations([
        ['AddNote', [`ALTER TABLE items ADD COLUMN note text`], [`ALTER TABLE items DROP COLUMN note`]],
      ]);
      const run = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        SHADOW_PGHOST: '127.0.0.1',
        SHADOW_PGPORT: '1',
        SHADOW_PGUSER: 'checker',
        SHADOW_PGPASSWORD: 'Shadow-Secret-123',
      });
      expect(run.code).not.toBe(0);
      expect(run.result.error?.message).toMatch(
        /cannot connect to the external shadow server 127\.0\.0\.1:1/,
      );
      expect(run.stdout + run.stderr + run.raw).not.toContain('Shadow-Secret-123');
    },
    T,
  );

  it(
    "checks the running app's entities against the migrated schema: a renamed column and a changed type family",
    async () => {
      const db = await createDatabase('shadow_entities');
      await withDb(db, async (c) => {
        await c.query(`CREATE TABLE widgets (id int PRIMARY KEY, label text)`);
        await c.query(`CREATE TABLE gadgets (id int PRIMARY KEY, price numeric, name varchar(20))`);
      });
      const entities = tempDir('running-entities');
      writeFileSync(
        path.join(entities, 'widget.entity.js'),
        readFileSync(path.join(ROOT, 'test/fixtures/entities/widget.entity.js')),
      );
      writeFileSync(
        path.join(entities, 'gadget.entity.js'),
        [
          "import { Column, Entity, PrimaryColumn } from 'typeorm';",
          'export class Gadget {}',
          "Entity('gadgets')(Gadget);",
          "PrimaryColumn({ type: 'int' })(Gadget.prototype, 'id');",
          "Column({ type: 'numeric' })(Gadget.prototype, 'price');",
          "Column({ type: 'varchar' })(Gadget.prototype, 'name');",
          '',
        ].join('\n'),
      );
      const dir = inlineMigrations([
        [
          'RenameLabel',
          [`ALTER TABLE widgets RENAME COLUMN label TO title`],
          [`ALTER TABLE widgets RENAME COLUMN title TO label`],
        ],
        [
          'PriceAsText',
          // varchar(20) -> text stays in the family: no finding for name.
          [
            `ALTER TABLE gadgets ALTER COLUMN price TYPE text`,
            `ALTER TABLE gadgets ALTER COLUMN name TYPE text`,
          ],
          [
            `ALTER TABLE gadgets ALTER COLUMN price TYPE numeric USING price::numeric`,
            `ALTER TABLE gadgets ALTER COLUMN name TYPE varchar(20)`,
          ],
        ],
      ]);
      const run = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        COMPATIBILITY_ENTITIES_DIR: entities,
      });
      expect(run.result.error).toBeUndefined();
      const found = checkLog(run.stdout)
        .findings.filter((f) => f.rule === 'compatibility-entity')
        .map((f) => f.message);
      expect(found).toHaveLength(2);
      expect(found).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /entity Widget of the running app uses column public\.widgets\.label, which is gone/,
          ),
          expect.stringMatching(
            /entity Gadget of the running app maps public\.gadgets\.price as numeric, but it is text/,
          ),
        ]),
      );
    },
    T,
  );
});
