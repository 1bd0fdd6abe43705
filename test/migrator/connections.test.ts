// Every connection that runs migration SQL has the timeouts, and data
// migrations can use the app's entities (ENTITIES_DIR).
import { cpSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT,
  appliedNames,
  createDatabase,
  migrationsDir,
  runMigrator,
  tempDir,
  withDb,
} from './helpers.js';

const T = 180_000;
const BASE = [
  'CreateCatalog1700000000000',
  'AddProductAttributes1700000001000',
  'SeedProductCategories1700000002000',
  'CreateAuditLog1700000003000',
];

describe('migrator connections', () => {
  it(
    'a data migration on a second pooled connection fails by lock_timeout instead of hanging',
    async () => {
      const db = await createDatabase('pooled');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base'), TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      await withDb(db, async (c) => {
        await c.query('BEGIN');
        await c.query('LOCK TABLE products IN ACCESS EXCLUSIVE MODE');
        const run = await runMigrator('migrate', {
          ...env,
          MIGRATIONS_DIR: migrationsDir('base', 'pooled'),
          LOCK_TIMEOUT_SECONDS: '1',
          IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: '30',
        });
        await c.query('ROLLBACK');
        expect(run.code).toBe(1);
        expect(run.result.error).toMatchObject({
          message: 'canceling statement due to lock timeout',
          code: '55P03',
          migration: 'PooledBackfill1700000011000',
        });
        expect(run.result.error?.statement).toMatch(
          /^UPDATE "products" SET "name" = "name" \|\| ' \(backfilled\)'/,
        );
      });
      expect(await appliedNames(db)).toEqual(BASE);
      await withDb(db, async (c) => {
        const r = await c.query(`SELECT count(*)::int AS n FROM products WHERE name LIKE '%(backfilled)'`);
        expect(r.rows[0]).toEqual({ n: 0 });
      });
    },
    T,
  );

  it(
    'ENTITIES_DIR: a data migration inserts through entity metadata; without it the migration fails',
    async () => {
      const entities = tempDir('entities');
      cpSync(path.join(ROOT, 'test/fixtures/entities'), entities, { recursive: true });
      const db = await createDatabase('entities');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('entities'), TRANSACTION_MODE: 'each' };

      const without = await runMigrator('migrate', env);
      expect(without.code).toBe(1);
      expect(without.result.error).toMatchObject({
        message: expect.stringMatching(/No metadata for "Widget" was found/),
        migration: 'SeedWidgets1700000012000',
      });
      expect(await appliedNames(db)).toEqual([]);

      const run = await runMigrator('migrate', { ...env, ENTITIES_DIR: entities });
      expect(run.result.error).toBeUndefined();
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/"count":1,.*"entities loaded"/);
      await withDb(db, async (c) => {
        const r = await c.query(`SELECT label FROM widgets ORDER BY id`);
        expect(r.rows).toEqual([{ label: 'first' }, { label: 'second' }]);
      });
    },
    T,
  );
});
