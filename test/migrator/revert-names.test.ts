// revert by name (REVERT_MIGRATIONS, newest first): exact, checked, idempotent.
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import {
  appliedNames,
  createDatabase,
  historyNames,
  migrationsDir,
  runMigrator,
  tableExists,
} from './helpers.js';

const T = 180_000;
const BASE = [
  'CreateCatalog1700000000000',
  'AddProductAttributes1700000001000',
  'SeedProductCategories1700000002000',
  'CreateAuditLog1700000003000',
];

describe('migrator revert by name', () => {
  it(
    'reverts exactly the named migrations; a re-run (a re-created Job) reverts nothing more',
    async () => {
      const db = await createDatabase('revname');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base'), TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      const names = 'CreateAuditLog1700000003000,SeedProductCategories1700000002000';
      const r1 = await runMigrator('revert', { ...env, REVERT_MIGRATIONS: names });
      expect(r1.result.error).toBeUndefined();
      expect(r1.code).toBe(0);
      expect(r1.result.migrations?.map((m) => [m.name, m.outcome])).toEqual([
        ['CreateAuditLog1700000003000', 'reverted'],
        ['SeedProductCategories1700000002000', 'reverted'],
      ]);
      expect(r1.result.totals).toEqual({ applied: 2 });
      expect(await appliedNames(db)).toEqual(BASE.slice(0, 2));
      expect(await tableExists(db, 'audit_log')).toBe(false);
      expect(await tableExists(db, 'product_categories')).toBe(false);

      const again = await runMigrator('revert', { ...env, REVERT_MIGRATIONS: names });
      expect(again.result.error).toBeUndefined();
      expect(again.code).toBe(0);
      expect(again.result.migrations).toEqual([]);
      expect(await appliedNames(db)).toEqual(BASE.slice(0, 2));
      expect(await historyNames(db, 'down')).toEqual([
        'CreateAuditLog1700000003000',
        'SeedProductCategories1700000002000',
      ]);

      // Not the newest applied one: refused, nothing undone.
      const wrong = await runMigrator('revert', { ...env, REVERT_MIGRATIONS: 'CreateCatalog1700000000000' });
      expect(wrong.code).toBe(1);
      expect(wrong.result.error).toEqual({
        message:
          'cannot revert CreateCatalog1700000000000: the newest applied migration is AddProductAttributes1700000001000; revert newest first',
        migration: 'CreateCatalog1700000000000',
      });
      const never = await runMigrator('revert', { ...env, REVERT_MIGRATIONS: 'NoSuch1700000000009' });
      expect(never.code).toBe(1);
      expect(never.result.error?.message).toBe(
        'cannot revert NoSuch1700000000009: it is not an applied migration',
      );
      expect(await appliedNames(db)).toEqual(BASE.slice(0, 2));
    },
    T,
  );

  it(
    'refuses an empty down() and a file changed since it was applied, before undoing anything',
    async () => {
      const db = await createDatabase('revrefuse');
      const dir = migrationsDir('base', 'nodown');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      const all = [...BASE, 'NoWayBack1700000010000'];

      const empty = await runMigrator('revert', {
        ...env,
        REVERT_MIGRATIONS: 'NoWayBack1700000010000,CreateAuditLog1700000003000',
      });
      expect(empty.code).toBe(1);
      expect(empty.result.error).toEqual({
        message:
          'cannot revert NoWayBack1700000010000: its down() is empty, so reverting would only delete its record',
        migration: 'NoWayBack1700000010000',
      });
      expect(empty.result.migrations).toEqual([]);
      expect(await appliedNames(db)).toEqual(all);
      expect(await tableExists(db, 'no_way_back')).toBe(true);

      // The old form is checked the same way.
      const steps = await runMigrator('revert', { ...env, REVERT_STEPS: '1' });
      expect(steps.result.error?.migration).toBe('NoWayBack1700000010000');
      expect(await appliedNames(db)).toEqual(all);

      const nd = migrationsDir('base');
      appendFileSync(path.join(nd, '1700000003000-CreateAuditLog.js'), '\n// edited after release\n');
      // Without the no-down migration applied, revert the edited one: refused by checksum.
      const db2 = await createDatabase('revsum');
      const env2 = { PGDATABASE: db2, MIGRATIONS_DIR: migrationsDir('base'), TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', env2)).code).toBe(0);
      const changed = await runMigrator('revert', {
        ...env2,
        MIGRATIONS_DIR: nd,
        REVERT_MIGRATIONS: 'CreateAuditLog1700000003000',
      });
      expect(changed.code).toBe(1);
      expect(changed.result.error?.message).toMatch(
        /^cannot revert CreateAuditLog1700000003000: its file changed since it was applied \(checksum [0-9a-f]{12}, now [0-9a-f]{12}\)$/,
      );
      expect(await appliedNames(db2)).toEqual(BASE);
      expect(await tableExists(db2, 'audit_log')).toBe(true);
    },
    T,
  );
});
