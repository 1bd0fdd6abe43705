// The emergency restore on a database's first run: the backup is taken before the
// migrator ever created its history table (or TypeORM its migrations table), the
// release fails half-way in `each` mode, and the restore must put the database
// back exactly as the backup saw it, keeping only the history of what happened.
import {
  createDatabase,
  historyNames,
  migrationsDir,
  runMigrator,
  tableChecksums,
  tempDir,
  withDb,
} from './helpers.js';

const T = 240_000;
const BASE = [
  'CreateCatalog1700000000000',
  'AddProductAttributes1700000001000',
  'SeedProductCategories1700000002000',
  'CreateAuditLog1700000003000',
];

describe('restore on a database whose first run it is', () => {
  it.each([
    ['public', undefined],
    ['a schema of its own', 'app'],
  ])(
    'with the bookkeeping in %s: backup before any history table, the 5th migration fails, the restore ends verified',
    async (_label, schema) => {
      const db = await createDatabase('first');
      // The app's data exists already (a database the app used before it had migrations),
      // plus a table in another schema that the release never touches.
      await withDb(db, async (c) => {
        if (schema) await c.query(`CREATE SCHEMA ${schema}`);
        await c.query(`CREATE TABLE settings (k text PRIMARY KEY, v text)`);
        await c.query(`INSERT INTO settings VALUES ('a', '1'), ('b', '2')`);
      });
      const env = {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base', 'failing'),
        TRANSACTION_MODE: 'each',
        MIGRATIONS_SCHEMA: schema,
      };
      const before = await tableChecksums(db);
      const hist = schema ? `${schema}.dbmigrate_history` : 'public.dbmigrate_history';
      expect(Object.keys(before)).toEqual(['public.settings']);

      const b = await runMigrator('backup', { ...env, BACKUP_DIR: tempDir('backups'), BACKUP_ID: 'first' });
      expect(b.result.error).toBeUndefined();
      expect(b.code).toBe(0);
      const m = await runMigrator('migrate', env);
      expect(m.code).toBe(1);
      expect(m.result.error?.migration).toBe('AddPriceCheck1700000004000');
      expect(Object.keys(await tableChecksums(db))).toContain(hist);

      const r = await runMigrator('restore', { ...env, BACKUP_PATH: b.result.backup!.path });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.verify).toEqual({ pending: [], problems: [] });
      expect(r.result.backup).toMatchObject({ verified: true });
      expect(r.result.migrations?.map((x) => x.name)).toEqual([...BASE].reverse());

      // Every table as the backup saw it; the one addition is the history, which says what happened.
      const { [hist]: history, ...rest } = await tableChecksums(db);
      expect(rest).toEqual(before);
      expect(history).toBeDefined();
      await withDb(db, async (c) => {
        const rows = await c.query<{ name: string; direction: string }>(
          `SELECT name, direction FROM ${hist} WHERE direction = 'down' ORDER BY id`,
        );
        expect(rows.rows.map((x) => x.name)).toEqual([...BASE].reverse());
      });
      if (!schema) expect(await historyNames(db, 'up')).toEqual(BASE);

      // And the next run starts from the restored state: the same release applies again.
      const again = await runMigrator('migrate', { ...env, MIGRATIONS_DIR: migrationsDir('base') });
      expect(again.result.error).toBeUndefined();
      expect(again.code).toBe(0);
    },
    T,
  );
});
