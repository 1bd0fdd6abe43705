// The restore verifies itself inside its transaction, before COMMIT: a
// difference from the backup rolls the whole restore back (the database as it
// was), while writers outside restoreWorkloads that write after COMMIT are a
// figure in the result, never a failed restore.
import pg from 'pg';
import {
  adminConfig,
  createDatabase,
  migrationsDir,
  runMigrator,
  tableChecksums,
  tempDir,
  withDb,
} from './helpers.js';

const T = 240_000;

async function backedUpAndMigrated(prefix: string): Promise<{ db: string; archive: string }> {
  const db = await createDatabase(prefix);
  await withDb(db, async (c) => {
    await c.query('CREATE TABLE events (id serial PRIMARY KEY, note text)');
    await c.query(`INSERT INTO events (note) SELECT 'e' || g FROM generate_series(1, 100) g`);
  });
  const b = await runMigrator('backup', { PGDATABASE: db, BACKUP_DIR: tempDir('backups'), BACKUP_ID: 'v' });
  expect(b.code).toBe(0);
  const m = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') });
  expect(m.code).toBe(0);
  return { db, archive: b.result.backup!.path };
}

describe('restore verification', () => {
  it(
    'a difference found before COMMIT (a table the backup lacks, kept) rolls the whole restore back',
    async () => {
      const { db, archive } = await backedUpAndMigrated('rv_fail');
      const before = await tableChecksums(db);
      const r = await runMigrator('restore', {
        PGDATABASE: db,
        BACKUP_PATH: archive,
        RESTORE_DROP_NEW_TABLES: 'false',
      });
      expect(r.code).toBe(1);
      expect(r.result.error?.message).toMatch(
        /^restore rolled back, the database is unchanged: psql failed: restore verification failed: tables not in the backup remain: public\.\S+/,
      );
      expect(await tableChecksums(db)).toEqual(before);
    },
    T,
  );

  it(
    'a writer outside the workloads keeps writing through the restore: the restore succeeds, verified, and none of its later rows is lost',
    async () => {
      const { db, archive } = await backedUpAndMigrated('rv_writer');
      const writer = new pg.Client({ ...adminConfig(db), application_name: 'outside-writer' });
      await writer.connect();
      let stop = false;
      let written = 0;
      const loop = (async () => {
        while (!stop) {
          // Blocks while the restore holds the table; goes on after its COMMIT.
          await writer.query(`INSERT INTO events (note) VALUES ('outside')`).then(
            () => written++,
            () => undefined,
          );
          await new Promise((res) => setTimeout(res, 5));
        }
      })();
      try {
        const r = await runMigrator('restore', { PGDATABASE: db, BACKUP_PATH: archive });
        expect(r.result.error).toBeUndefined();
        expect(r.code).toBe(0);
        expect(r.result.backup?.verified).toBe(true);
        expect(r.result.verify).toEqual({ pending: [], problems: [] });
        expect(r.result.backup?.rowsChangedAfterCommit).toEqual(expect.any(Number));
      } finally {
        stop = true;
        await loop;
        await writer.end();
      }
      expect(written).toBeGreaterThan(0);
      // The backup's 100 rows, plus whatever the writer wrote after the restore's COMMIT.
      const n = await withDb(
        db,
        async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n,
      );
      expect(n).toBeGreaterThanOrEqual(100);
    },
    T,
  );
});
