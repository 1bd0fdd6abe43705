// The way back under the faults that used to make it partial, on a real
// PostgreSQL: a migrate result cut to 4 KiB, a migrate Job started again after
// it succeeded unseen, a revert Job started again, writers in another schema
// during a restore. Each case counts the app's rows lost (it must be 0) and
// checks the release is exactly undone (or exactly applied).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { debianBinDir, startServer, type Server } from '../lib/postgres.js';
import {
  adminConfig,
  appliedNames,
  createDatabase,
  runMigrator,
  tempDir,
  withDb,
} from '../migrator/helpers.js';
import { recordReliability, writeReliabilityDoc } from './reliability-report.js';

const T = 300_000;
const LONG = 'AddAVeryLongAndDescriptiveMigrationNameThatTeamsReallyWrite';
let server: Server;

beforeAll(async () => {
  server = await startServer({ bin: debianBinDir(), prefix: 'dbm-wayback-pg-' });
  Object.assign(process.env, server.env);
}, T);

afterAll(() => {
  server?.stop();
  writeReliabilityDoc();
});

/** `count` migrations creating t_<i>, the last one failing on the app's real rows when `failOnRows`. */
function release(count: number, failOnRows: boolean, schema = 'public'): { dir: string; names: string[] } {
  const dir = tempDir('wayback-migrations');
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const ts = 1750000000000 + i * 1000;
    const name = `${LONG}${String(i).padStart(3, '0')}${ts}`;
    names.push(name);
    const last = failOnRows && i === count - 1;
    const up = last
      ? `ALTER TABLE ${schema}.customers ADD CONSTRAINT only_a CHECK (email LIKE 'a%')`
      : `CREATE TABLE ${schema}.t_${i} (id int)`;
    const down = last
      ? `ALTER TABLE ${schema}.customers DROP CONSTRAINT only_a`
      : `DROP TABLE ${schema}.t_${i}`;
    writeFileSync(
      path.join(dir, `${ts}-${name}.js`),
      `export class ${name} {\n  async up(q) { await q.query(${JSON.stringify(up)}); }\n  async down(q) { await q.query(${JSON.stringify(down)}); }\n}\n`,
    );
  }
  return { dir, names };
}

/** A database with the app's 5,000 customers (in `schema`). */
async function appDatabase(prefix: string, schema = 'public'): Promise<string> {
  const db = await createDatabase(prefix);
  await withDb(db, async (c) => {
    if (schema !== 'public') await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(`CREATE TABLE ${schema}.customers (id int PRIMARY KEY, email text NOT NULL)`);
    await c.query(
      `INSERT INTO ${schema}.customers SELECT g, 'c' || g || '@example.test' FROM generate_series(1, 5000) g`,
    );
  });
  return db;
}

const count = (db: string, table: string) =>
  withDb(
    db,
    async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n,
  );

const releaseTables = (db: string) =>
  withDb(
    db,
    async (c) =>
      (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 't\\_%'`))
        .rows[0]!.n,
  );

describe('the way back under faults', () => {
  it(
    'migrate result cut to 4 KiB (45 applied, the 46th failing), revert of what the run applied, twice',
    async () => {
      const db = await appDatabase('wb_cut');
      const { dir, names } = release(46, true);
      const env = {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        TRANSACTION_MODE: 'each',
        MIGRATION_AUTHOR: 'apps/shop@7.1',
      };
      const m = await runMigrator('migrate', env);
      expect(m.code).toBe(1);
      expect(m.result.truncated).toBe(true);
      const listed = (m.result.migrations ?? []).filter((x) => x.outcome === 'applied').length;
      const revert = { ...env, REVERT_APPLIED_BY: 'apps/shop@7.1' };
      const r1 = await runMigrator('revert', revert);
      const r2 = await runMigrator('revert', revert); // the revert Job started again
      expect([r1.code, r2.code]).toEqual([0, 0]);
      expect(await appliedNames(db)).toEqual([]);
      expect(await releaseTables(db)).toBe(0);
      const lost = 5000 - (await count(db, 'customers'));
      recordReliability({
        fault: `migrate result cut to 4 KiB (${listed} of 45 applied listed, ${names[45]} failing)`,
        run: 'migrate (each), revert by run identity x2',
        injected: 1,
        outcome: `reverted ${r1.result.totals?.applied ?? 0} + ${r2.result.totals?.applied ?? 0}; 0 of 45 left applied, 0 tables left`,
        rowsLost: lost,
        detail: 'the revert read what the run applied from the history, not from the cut list',
      });
      expect(lost).toBe(0);
    },
    T,
  );

  it(
    'a migrate Job started again after it succeeded unseen (its Job vanished): it applies nothing twice and reports all',
    async () => {
      const db = await appDatabase('wb_vanished');
      const { dir, names } = release(4, false);
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, MIGRATION_AUTHOR: 'apps/shop@8.1' };
      const check = await runMigrator('check', env);
      expect(check.code).toBe(0);
      const plan = check.result.plan!;
      const checked = {
        EXPECTED_CHECKSUMS: JSON.stringify(plan.checksums),
        EXPECTED_PENDING_COUNT: String(plan.pending.length),
        EXPECTED_PLAN_DIGEST: plan.checksumsDigest!,
      };
      const first = await runMigrator('migrate', { ...env, ...checked });
      const again = await runMigrator('migrate', { ...env, ...checked });
      expect([first.code, again.code]).toEqual([0, 0]);
      expect(again.result.migrations?.map((x) => x.name)).toEqual(names);
      const up = await withDb(
        db,
        async (c) =>
          (
            await c.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM dbmigrate_history WHERE direction = 'up'`,
            )
          ).rows[0]!.n,
      );
      expect(up).toBe(4);
      const lost = 5000 - (await count(db, 'customers'));
      recordReliability({
        fault: 'migrate Job started again after it succeeded (deleted before the operator saw it)',
        run: 'migrate x2, same run',
        injected: 1,
        outcome: `second run reports ${again.result.totals?.applied ?? 0}/4 applied (by this run), applies 0`,
        rowsLost: lost,
      });
      expect(lost).toBe(0);
    },
    T,
  );

  it(
    'writers in another schema during a scoped restore: app restored, billing keeps every row',
    async () => {
      const db = await appDatabase('wb_scoped', 'app');
      await withDb(db, async (c) => {
        await c.query('CREATE SCHEMA billing');
        await c.query('CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount int)');
        await c.query('INSERT INTO billing.invoices (amount) SELECT g FROM generate_series(1, 1000) g');
      });
      const { dir } = release(3, true, 'app');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, MIGRATIONS_SCHEMA: 'app', TRANSACTION_MODE: 'each' };
      const b = await runMigrator('backup', { ...env, BACKUP_DIR: tempDir('wb-backups'), BACKUP_ID: 'w1' });
      expect(b.code).toBe(0);
      expect((await runMigrator('migrate', env)).code).toBe(1);
      // Another application writes to billing all along, before and during the restore.
      const writer = new pg.Client(adminConfig(db));
      await writer.connect();
      let stop = false;
      let written = 0;
      const loop = (async () => {
        while (!stop) {
          await writer.query('INSERT INTO billing.invoices (amount) VALUES (1)').then(() => written++);
          await new Promise((res) => setTimeout(res, 5));
        }
      })();
      let r: Awaited<ReturnType<typeof runMigrator>>;
      try {
        r = await runMigrator('restore', {
          ...env,
          BACKUP_PATH: b.result.backup!.path,
          RESTORE_SCHEMAS: 'app',
        });
      } finally {
        stop = true;
        await loop;
        await writer.end();
      }
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      const billing = await count(db, 'billing.invoices');
      const lost = 1000 + written - billing + (5000 - (await count(db, 'app.customers')));
      expect(await releaseTables(db)).toBe(0);
      recordReliability({
        fault: `writer adding rows to schema billing during the restore of schema app (${written} rows)`,
        run: 'migrate (each) fails, scoped restore (RESTORE_SCHEMAS=app)',
        injected: 1,
        outcome: `restore verified; billing ${billing} rows (1000 before + ${written} during); app as the backup`,
        rowsLost: lost,
        detail: 'a whole-database restore would have discarded billing rows written since the backup',
      });
      expect(lost).toBe(0);
    },
    T,
  );
});
