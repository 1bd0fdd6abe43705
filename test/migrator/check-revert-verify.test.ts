import { appendFileSync, rmSync } from 'node:fs';
import { fullResultFromLog, type Finding, type JobResult, type ShadowRecord } from '../../crds/job-result.js';
import path from 'node:path';
import {
  appliedNames,
  createDatabase,
  migrationsDir,
  runMigrator,
  schemaFingerprint,
  tableChecksums,
  tableExists,
  withDb,
} from './helpers.js';

const T = 180_000;

/** The check's full result line: every finding and the shadow's record, untruncated. */
function checkLog(stdout: string): { findings: Finding[]; shadow: ShadowRecord } {
  const full = fullResultFromLog(stdout);
  if (!full) throw new Error(`no full result line in:\n${stdout.slice(-2000)}`);
  const plan = (JSON.parse(full) as JobResult).plan;
  if (!plan?.shadow) throw new Error(`the full result has no plan.shadow: ${full.slice(0, 2000)}`);
  return { findings: plan.findings, shadow: plan.shadow };
}

describe('migrator check', () => {
  it(
    'captures the SQL of pending migrations, lints it, and leaves the database unchanged',
    async () => {
      const db = await createDatabase('check');
      expect(
        (await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') })).code,
      ).toBe(0);
      const dir = migrationsDir('base', 'concurrent', 'destructive', 'slow');
      const schema = await schemaFingerprint(db);
      const data = await tableChecksums(db);
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, TRANSACTION_MODE: 'each' };
      const run = await runMigrator('check', { ...env, LOG_LEVEL: 'debug' });
      expect(run.result.error).toBeUndefined();
      expect(run.code).toBe(0);
      const plan = run.result.plan!;
      expect(plan.pending).toEqual([
        'AddSkuIndexConcurrently1700000006000',
        'DropLegacyData1700000007000',
        'SlowBackfill1700000008000',
      ]);
      // transaction = false migrations run on the shadow too: nothing escapes the check.
      expect(plan.notCaptured).toEqual([]);
      expect(plan.hash).toMatch(/^[0-9a-f]{64}$/);
      // The 4 KiB result may shorten the list; the log line has every finding.
      expect(plan.findings.length).toBeLessThanOrEqual(run.result.totals?.findings ?? 0);
      const all = checkLog(run.stdout).findings;
      expect(all).toHaveLength(run.result.totals?.findings ?? -1);
      const got = all.map((f) => `${f.migration}:${f.category}:${f.rule}`);
      expect(got).toEqual(
        expect.arrayContaining([
          'DropLegacyData1700000007000:destructive:drop-column',
          'DropLegacyData1700000007000:dataLoss:drop-column',
          'DropLegacyData1700000007000:backwardIncompatible:drop-column',
          'DropLegacyData1700000007000:dataLoss:delete-without-where',
          'DropLegacyData1700000007000:backwardIncompatible:rename-column',
          'DropLegacyData1700000007000:locking:create-index-not-concurrently',
          'DropLegacyData1700000007000:dataLoss:alter-column-type',
        ]),
      );
      expect(got.some((f) => f.startsWith('SlowBackfill'))).toBe(false);
      // At debug level the captured SQL is in the logs; the "check finished" line is a summary.
      expect(run.stdout).toContain('ALTER TABLE \\"product_variants\\" DROP COLUMN \\"attributes\\"');
      const finished = run.stdout.split('\n').filter((l) => l.includes('"check finished"'));
      expect(finished).toHaveLength(1);
      expect(JSON.parse(finished[0]!)).toMatchObject({ pending: 3, findings: all.length });
      // Nothing changed: schema, data, migrations.
      expect(await schemaFingerprint(db)).toBe(schema);
      expect(await tableChecksums(db)).toEqual(data);
      expect(await tableExists(db, 'backfill_marker')).toBe(false);
      // Same pending set, same SQL -> same hash.
      const again = await runMigrator('check', env);
      expect(again.result.plan?.hash).toBe(plan.hash);
    },
    T,
  );
});

describe('migrator revert', () => {
  it(
    'reverts N migrations, then down to a named one, honouring transaction = false',
    async () => {
      const db = await createDatabase('revert');
      const dir = migrationsDir('base', 'concurrent');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      // DROP INDEX CONCURRENTLY fails inside a transaction: passing proves down() ran outside one.
      const r1 = await runMigrator('revert', { ...env, REVERT_STEPS: '2' });
      expect(r1.result.error).toBeUndefined();
      expect(r1.code).toBe(0);
      expect(r1.result.migrations?.map((m) => [m.name, m.outcome])).toEqual([
        ['AddSkuIndexConcurrently1700000006000', 'reverted'],
        ['CreateAuditLog1700000003000', 'reverted'],
      ]);
      expect(await appliedNames(db)).toEqual([
        'CreateCatalog1700000000000',
        'AddProductAttributes1700000001000',
        'SeedProductCategories1700000002000',
      ]);
      expect(await tableExists(db, 'audit_log')).toBe(false);
      expect(await tableExists(db, 'product_variants_sku_idx')).toBe(false);

      const r2 = await runMigrator('revert', { ...env, REVERT_TO: 'CreateCatalog1700000000000' });
      expect(r2.code).toBe(0);
      expect(await appliedNames(db)).toEqual(['CreateCatalog1700000000000']);
      await withDb(db, async (c) => {
        const h = await c.query(
          `SELECT name, direction FROM dbmigrate_history WHERE direction = 'down' ORDER BY id`,
        );
        expect(h.rows.map((r) => r.name)).toEqual([
          'AddSkuIndexConcurrently1700000006000',
          'CreateAuditLog1700000003000',
          'SeedProductCategories1700000002000',
          'AddProductAttributes1700000001000',
        ]);
      });
      // Re-applying after the revert works (and verify passes).
      expect((await runMigrator('migrate', env)).code).toBe(0);

      const bad = await runMigrator('revert', { ...env, REVERT_TO: 'NoSuch1700000000001' });
      expect(bad.code).not.toBe(0);
      expect(bad.result.error?.message).toMatch(/not an applied migration/);
    },
    T,
  );
});

describe('migrator verify', () => {
  it(
    'reports pending, changed and missing migrations and false verification queries',
    async () => {
      const db = await createDatabase('verify');
      const dir = migrationsDir('base');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      const ok = await runMigrator('verify', { ...env, VERIFY_QUERIES: JSON.stringify(['SELECT true']) });
      expect(ok.code).toBe(0);
      expect(ok.result.verify).toEqual({ pending: [], problems: [] });

      appendFileSync(path.join(dir, '1700000002000-SeedProductCategories.js'), '\n// edited after release\n');
      rmSync(path.join(dir, '1700000003000-CreateAuditLog.js'));
      const bad = await runMigrator('verify', {
        ...env,
        VERIFY_QUERIES: JSON.stringify([
          'SELECT count(*) = 999 FROM products',
          'SELECT * FROM no_such_table',
        ]),
      });
      expect(bad.code).not.toBe(0);
      expect(bad.result.ok).toBe(false);
      expect(bad.result.verify?.problems).toEqual([
        expect.stringMatching(/SeedProductCategories1700000002000 changed since it was applied/),
        'applied migration CreateAuditLog1700000003000 has no file in the migrations directory',
        'verification query 1 did not return a single true value',
        expect.stringMatching(/verification query 2 failed: relation "no_such_table" does not exist/),
      ]);
      expect(bad.result.error?.message).toMatch(
        /^verification failed: migration SeedProductCategories1700000002000 changed/,
      );
    },
    T,
  );

  it(
    'fails migrate when a verification query is false, after applying',
    async () => {
      const db = await createDatabase('verifyq');
      const run = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base'),
        VERIFY_QUERIES: JSON.stringify(['SELECT false']),
      });
      expect(run.code).not.toBe(0);
      expect(run.result.migrations).toHaveLength(4);
      expect(run.result.verify?.problems).toEqual([
        'verification query 1 did not return a single true value',
      ]);
    },
    T,
  );
});
