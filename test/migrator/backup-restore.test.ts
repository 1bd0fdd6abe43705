import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  appliedNames,
  createDatabase,
  listDir,
  migrationsDir,
  runMigrator,
  tableChecksums,
  tempDir,
  withDb,
} from './helpers.js';

const T = 180_000;

describe('migrator backup and restore', () => {
  it.each(['custom', 'directory'])(
    'backup (%s) -> destructive migration -> restore gives identical tables and migrations',
    async (format) => {
      const db = await createDatabase(`br_${format.slice(0, 3)}`);
      const migrations = migrationsDir('base');
      const backups = tempDir('backups');
      const env = {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrations,
        TRANSACTION_MODE: 'each',
        BACKUP_DIR: backups,
        BACKUP_FORMAT: format,
        BACKUP_JOBS: '2',
      };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      const before = await tableChecksums(db);
      const namesBefore = await appliedNames(db);

      const b = await runMigrator('backup', { ...env, BACKUP_ID: 'before-upgrade' });
      expect(b.result.error).toBeUndefined();
      expect(b.code).toBe(0);
      const rec = b.result.backup!;
      expect(rec).toMatchObject({
        format,
        verified: true,
        serverVersion: expect.stringMatching(/^\d+\.\d+/),
        appliedMigrations: 4,
        verifiedBy: 'restore',
      });
      expect(rec.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(rec.sizeBytes).toBeGreaterThan(0);
      expect(rec.tables).toBe(Object.keys(before).length);
      expect(rec.rows).toBe(50 + 200 + 4 + 0 + 4 + 4); // products, variants, categories, audit_log, migrations, history
      expect(rec.path).toBe(
        path.join(backups, format === 'custom' ? 'before-upgrade.dump' : 'before-upgrade'),
      );
      const sidecar = JSON.parse(readFileSync(path.join(backups, 'before-upgrade.meta.json'), 'utf8'));
      expect(sidecar.tables['public.product_variants']).toBe(200);
      expect(sidecar.migrations).toEqual(namesBefore);

      // The destructive upgrade: drops a column, deletes rows, renames, retypes.
      const destructive = migrationsDir('base', 'destructive', 'slow'); // slow creates backfill_marker
      expect((await runMigrator('migrate', { ...env, MIGRATIONS_DIR: destructive })).code).toBe(0);
      await withDb(db, (c) =>
        c
          .query(`INSERT INTO products (name) VALUES ('written after the backup') RETURNING id`)
          .catch(() => c.query(`INSERT INTO products (title) VALUES ('x')`)),
      );
      expect(await tableChecksums(db)).not.toEqual(before);

      const r = await runMigrator('restore', { PGDATABASE: db, BACKUP_PATH: rec.path, BACKUP_JOBS: '2' });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.backup).toMatchObject({ sha256: rec.sha256, verified: true });
      expect(r.result.verify).toEqual({ pending: [], problems: [] });
      // Every table as at the backup, except the history, which keeps what was written since.
      const { 'public.dbmigrate_history': _h, ...after } = await tableChecksums(db);
      const { 'public.dbmigrate_history': _b, ...atBackup } = before;
      expect(after).toEqual(atBackup);
      expect(await appliedNames(db)).toEqual(namesBefore);
      expect(r.result.backup?.historyRowsSince).toBe(2);
      expect(r.result.migrations?.map((m) => [m.name, m.outcome])).toEqual([
        ['SlowBackfill1700000008000', 'reverted'],
        ['DropLegacyData1700000007000', 'reverted'],
      ]);
    },
    T,
  );

  it(
    'keeps BACKUP_RETENTION backups and refuses a corrupted archive',
    async () => {
      const db = await createDatabase('retention');
      const backups = tempDir('backups');
      const env = {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base'),
        BACKUP_DIR: backups,
        BACKUP_RETENTION: '2',
      };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      for (const id of ['b1', 'b2', 'b3'])
        expect((await runMigrator('backup', { ...env, BACKUP_ID: id })).code).toBe(0);
      expect(listDir(backups)).toEqual(['b2.dump', 'b2.meta.json', 'b3.dump', 'b3.meta.json']);

      const dup = await runMigrator('backup', { ...env, BACKUP_ID: 'b3' });
      expect(dup.code).not.toBe(0);
      expect(dup.result.error?.message).toMatch(/already exists/);

      const file = path.join(backups, 'b3.dump');
      const bytes = readFileSync(file);
      bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
      const { writeFileSync } = await import('node:fs');
      writeFileSync(file, bytes);
      const before = await tableChecksums(db);
      const r = await runMigrator('restore', { PGDATABASE: db, BACKUP_PATH: file });
      expect(r.code).not.toBe(0);
      expect(r.result.error?.message).toMatch(/is corrupt: sha256/);
      expect(await tableChecksums(db)).toEqual(before);
      expect(existsSync(path.join(backups, 'b2.dump'))).toBe(true);
    },
    T,
  );
});
