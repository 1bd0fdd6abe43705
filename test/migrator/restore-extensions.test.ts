// A restore that works where the app's own role works: the database belongs to
// a non-superuser role, an extension in it to the superuser (as on managed
// PostgreSQL and CloudNativePG). The migration drops a table; the restore, run
// as the app's role, brings it back and leaves the extension in place (its
// owner alone may drop or create it: "must be owner of extension uuid-ossp").
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabase, runMigrator, tempDir, withDb } from './helpers.js';

it("as the app's non-superuser role, with uuid-ossp owned by the superuser: the dropped table comes back, the extension stays", async () => {
  const db = await createDatabase('ext');
  const role = `app_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await withDb('postgres', async (c) => {
    await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await c.query(`ALTER DATABASE ${db} OWNER TO ${role}`);
  });
  await withDb(db, async (c) => {
    await c.query(`ALTER SCHEMA public OWNER TO ${role}`);
    await c.query('CREATE EXTENSION "uuid-ossp"');
    await c.query(`SET ROLE ${role}`);
    await c.query('CREATE TABLE notes (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), body text)');
    await c.query(`INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 50) g`);
  });
  const dir = tempDir('ext-migrations');
  writeFileSync(
    path.join(dir, '1770000000000-DropNotes.js'),
    `export class DropNotes1770000000000 {
  async up(q) { await q.query('DROP TABLE notes'); }
  async down(q) { await q.query('CREATE TABLE notes (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), body text)'); }
}
`,
  );
  const asApp = { PGDATABASE: db, PGUSER: role, PGPASSWORD: password, MIGRATIONS_DIR: dir };
  const b = await runMigrator('backup', { ...asApp, BACKUP_DIR: tempDir('ext-backups'), BACKUP_ID: 'e1' });
  expect(b.result.error).toBeUndefined();
  expect(b.code).toBe(0);
  // Proven on a private server where uuid-ossp belongs to the superuser too, by the same restore.
  expect(b.result.backup).toMatchObject({ verified: true, verifiedBy: 'restore' });
  const m = await runMigrator('migrate', asApp);
  expect(m.code).toBe(0);

  const r = await runMigrator('restore', { ...asApp, BACKUP_PATH: b.result.backup!.path });
  expect(r.result.error).toBeUndefined();
  expect(r.code).toBe(0);
  expect(r.result.backup?.verified).toBe(true);
  await withDb(db, async (c) => {
    expect((await c.query<{ n: number }>('SELECT count(*)::int AS n FROM notes')).rows[0]?.n).toBe(50);
    const ext = await c.query<{ owner: string }>(
      `SELECT pg_get_userbyid(extowner) AS owner FROM pg_extension WHERE extname = 'uuid-ossp'`,
    );
    expect(ext.rows).toEqual([{ owner: process.env.PGUSER }]);
    // The restored default still calls the extension's function.
    await c.query(`INSERT INTO notes (body) VALUES ('after the restore')`);
  });
}, 240_000);
