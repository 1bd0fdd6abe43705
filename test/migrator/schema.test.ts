// spec.database.schema (MIGRATIONS_SCHEMA): the migrations and history tables
// live in that schema (TypeORM's DataSource schema), and every command finds
// them there; the migrations' own unqualified SQL follows the role's search_path.
import { appliedNames, createDatabase, migrationsDir, runMigrator, withDb } from './helpers.js';

const T = 240_000;

describe('migrations table in a schema other than public', () => {
  it(
    'migrate, check, verify and revert keep their bookkeeping in the schema',
    async () => {
      const db = await createDatabase('schema');
      await withDb(db, (c) => c.query('CREATE SCHEMA billing'));
      const env = { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base'), MIGRATIONS_SCHEMA: 'billing' };
      const m = await runMigrator('migrate', env);
      expect(m.result.error).toBeUndefined();
      expect(m.code).toBe(0);
      expect(await appliedNames(db, 'billing.migrations')).toHaveLength(4);
      expect(await appliedNames(db, 'public.migrations')).toEqual([]);
      const history = await withDb(db, (c) =>
        c.query<{ r: string | null }>(`SELECT to_regclass('billing.dbmigrate_history') AS r`),
      );
      expect(history.rows[0]?.r).toBe('billing.dbmigrate_history');

      const check = await runMigrator('check', env);
      expect(check.result.error).toBeUndefined();
      expect(check.result.plan?.pending).toEqual([]);
      const verify = await runMigrator('verify', env);
      expect(verify.result.error).toBeUndefined();
      expect(verify.code).toBe(0);

      const revert = await runMigrator('revert', { ...env, REVERT_STEPS: '1' });
      expect(revert.result.error).toBeUndefined();
      expect(await appliedNames(db, 'billing.migrations')).toHaveLength(3);
      const again = await runMigrator('migrate', env);
      expect(again.code).toBe(0);
      expect(await appliedNames(db, 'billing.migrations')).toHaveLength(4);
    },
    T,
  );

  it(
    'a schema that does not exist fails, naming it',
    async () => {
      const db = await createDatabase('noschema');
      const r = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base'),
        MIGRATIONS_SCHEMA: 'missing',
      });
      expect(r.code).not.toBe(0);
      expect(r.result.error?.message).toMatch(/missing/);
    },
    T,
  );
});
