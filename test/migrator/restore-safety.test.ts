// restore is all or nothing, only into the database the backup came from, and
// keeps the history written since; a backup is verified only by restoring it.
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { archiveDigest, sidecarPath } from '../../migrator-image/src/commands/backup.js';
import {
  appliedNames,
  createDatabase,
  historyNames,
  listDir,
  migrationsDir,
  runMigrator,
  schemaFingerprint,
  tableChecksums,
  tableExists,
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
const SLOW = 'SlowBackfill1700000008000';

async function breakDirectoryArchive(archive: string): Promise<void> {
  // The biggest data file cut in half: pg_restore fails half-way through the archive,
  // after the drops and part of the COPY data went to psql.
  const biggest = readdirSync(archive)
    .filter((f) => f.endsWith('.dat.gz'))
    .sort((a, b) => statSync(path.join(archive, b)).size - statSync(path.join(archive, a)).size)[0]!;
  const file = path.join(archive, biggest);
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
  // Re-record the digest so the sha256 check passes and the restore itself is what fails.
  const meta = JSON.parse(readFileSync(sidecarPath(archive), 'utf8'));
  meta.sha256 = (await archiveDigest(archive)).sha256;
  writeFileSync(sidecarPath(archive), JSON.stringify(meta));
}

describe('migrator restore safety', () => {
  it.each(['custom', 'directory'])(
    'a restore that fails half-way (%s) leaves every table and row as before; then one that succeeds keeps the history',
    async (format) => {
      const db = await createDatabase(`rs_${format.slice(0, 3)}`);
      const backups = tempDir('backups');
      const env = { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base'), TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      const atBackup = await tableChecksums(db);
      const b = await runMigrator('backup', {
        ...env,
        BACKUP_DIR: backups,
        BACKUP_FORMAT: format,
        BACKUP_ID: 'b',
      });
      expect(b.code).toBe(0);
      expect(b.result.backup).toMatchObject({ verified: true, verifiedBy: 'restore' });
      const archive = b.result.backup!.path;
      expect(
        (await runMigrator('migrate', { ...env, MIGRATIONS_DIR: migrationsDir('base', 'slow') })).code,
      ).toBe(0);
      await withDb(db, (c) => c.query(`INSERT INTO products (name) VALUES ('written after the backup')`));

      if (format === 'custom') {
        // A conflicting object: --clean's DROP TABLE products fails on the dependent view,
        // after the tables created since the backup were already dropped in the same transaction.
        await withDb(db, (c) => c.query(`CREATE VIEW product_names AS SELECT name FROM products`));
      } else {
        await breakDirectoryArchive(archive);
      }
      const before = await tableChecksums(db);
      const schema = await schemaFingerprint(db);
      const failed = await runMigrator('restore', { PGDATABASE: db, BACKUP_PATH: archive });
      expect(failed.code).toBe(1);
      expect(failed.result.error?.message).toMatch(
        format === 'custom'
          ? /^restore rolled back, the database is unchanged: psql failed: cannot drop table public\.products because other objects depend on it$/
          : /^restore rolled back, the database is unchanged: (pg_restore|psql) failed: \S/,
      );
      expect(await tableChecksums(db)).toEqual(before);
      expect(await schemaFingerprint(db)).toBe(schema);
      expect(await tableExists(db, 'backfill_marker')).toBe(true);
      if (format === 'directory') return;

      await withDb(db, (c) => c.query(`DROP VIEW product_names`));
      const ok = await runMigrator('restore', { PGDATABASE: db, BACKUP_PATH: archive });
      expect(ok.result.error).toBeUndefined();
      expect(ok.code).toBe(0);
      expect(ok.result.backup).toMatchObject({
        verified: true,
        historyRowsSince: 1,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(ok.result.migrations).toEqual([{ name: SLOW, durationMs: 0, outcome: 'reverted' }]);
      expect(ok.result.verify).toEqual({ pending: [], problems: [] });
      expect(await appliedNames(db)).toEqual(BASE);
      const { 'public.dbmigrate_history': historyNow, ...restNow } = await tableChecksums(db);
      const { 'public.dbmigrate_history': historyThen, ...restThen } = atBackup;
      expect(restNow).toEqual(restThen);
      expect(historyNow).not.toEqual(historyThen);
      // The history written since the backup is kept, and says what the restore undid.
      expect(await historyNames(db, 'up')).toEqual([...BASE, SLOW]);
      await withDb(db, async (c) => {
        const r = await c.query(
          `SELECT name, transaction_mode FROM dbmigrate_history WHERE direction = 'down'`,
        );
        expect(r.rows).toEqual([{ name: SLOW, transaction_mode: 'restore' }]);
        // The sequence follows the kept rows: the next migrate appends after them.
        await c.query(`INSERT INTO dbmigrate_history (name, direction) VALUES ('probe', 'up')`);
      });
    },
    T,
  );

  it(
    'refuses a backup taken from another database',
    async () => {
      const db = await createDatabase('rs_src');
      const other = await createDatabase('rs_dst');
      const backups = tempDir('backups');
      expect(
        (await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') })).code,
      ).toBe(0);
      const b = await runMigrator('backup', { PGDATABASE: db, BACKUP_DIR: backups, BACKUP_ID: 'src' });
      expect(b.code).toBe(0);
      const r = await runMigrator('restore', { PGDATABASE: other, BACKUP_PATH: b.result.backup!.path });
      expect(r.code).toBe(1);
      const port = process.env.PGPORT;
      expect(r.result.error?.message).toBe(
        `backup src was taken from 127.0.0.1:${port}/${db}, not the target 127.0.0.1:${port}/${other}: refusing to restore it there`,
      );
      expect(await tableExists(other, 'products')).toBe(false);
    },
    T,
  );

  it(
    'a dump whose restore fails is not verified (and is not kept); no database is created on the target',
    async () => {
      const db = await createDatabase('rs_unrest');
      const backups = tempDir('backups');
      // A CHECK through a SQL function that reads another table by its unqualified name:
      // pg_dump writes it, but it cannot be restored (the restore runs with an empty search_path).
      await withDb(db, async (c) => {
        await c.query(`CREATE TABLE allowed (code text PRIMARY KEY); INSERT INTO allowed VALUES ('a')`);
        await c.query(
          `CREATE FUNCTION is_allowed(c text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT EXISTS (SELECT 1 FROM allowed WHERE code = c)'`,
        );
        await c.query(
          `CREATE TABLE items (code text CHECK (is_allowed(code))); INSERT INTO items VALUES ('a')`,
        );
      });
      const b = await runMigrator('backup', { PGDATABASE: db, BACKUP_DIR: backups, BACKUP_ID: 'x' });
      expect(b.code).toBe(1);
      expect(b.result.error?.message).toMatch(
        /^backup verification failed: the archive does not restore as \S+: .*relation "allowed" does not exist/,
      );
      expect(b.result.backup).toMatchObject({ verified: false, verifiedBy: 'restore' });
      expect(listDir(backups)).toEqual([]);
      await withDb('postgres', async (c) => {
        const r = await c.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
          `${db}_dbm_verify_%`,
        ]);
        expect(r.rows).toEqual([]);
      });
    },
    T,
  );

  it(
    'without CREATE DATABASE the backup is still proven by a restore (on a private server)',
    async () => {
      const role = `dbm_nocreate_${randomBytes(4).toString('hex')}`;
      const password = randomBytes(12).toString('hex');
      await withDb('postgres', (c) => c.query(`CREATE ROLE ${role} LOGIN NOCREATEDB PASSWORD '${password}'`));
      const db = await createDatabase('rs_list');
      await withDb('postgres', (c) => c.query(`ALTER DATABASE ${db} OWNER TO ${role}`));
      await withDb(db, (c) => c.query(`ALTER SCHEMA public OWNER TO ${role}`));
      const env = { PGDATABASE: db, PGUSER: role, PGPASSWORD: password };
      expect((await runMigrator('migrate', { ...env, MIGRATIONS_DIR: migrationsDir('base') })).code).toBe(0);
      const b = await runMigrator('backup', { ...env, BACKUP_DIR: tempDir('backups'), BACKUP_ID: 'l' });
      expect(b.result.error).toBeUndefined();
      expect(b.code).toBe(0);
      expect(b.result.backup).toMatchObject({ verified: true, verifiedBy: 'restore' });
      expect(b.result.backup?.verifyNote).toBeUndefined();
    },
    T,
  );
});
