// The backup is proven by the restore the way back runs, into a private server
// the backup process starts: never on the target (no database appears there,
// whatever the role may do), as the target's role, with every table's count and
// checksum compared with the dump's snapshot. Above BACKUP_PROOF_MAX_BYTES the
// proof is skipped, said so, and the step still succeeds.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sidecarPath } from '../../migrator-image/src/commands/backup.js';
import { compareSumsSql, snapshotSums } from '../../migrator-image/src/commands/backup-sums.js';
import { createDatabase, migrationsDir, runMigrator, tempDir, withDb } from './helpers.js';

const T = 240_000;

/** A LOGIN NOCREATEDB NOSUPERUSER role owning a fresh database (and its schema public). */
async function appDatabase(prefix: string): Promise<{ db: string; env: Record<string, string> }> {
  const role = `app_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await withDb('postgres', (c) =>
    c.query(`CREATE ROLE ${role} LOGIN NOCREATEDB NOSUPERUSER PASSWORD '${password}'`),
  );
  const db = await createDatabase(prefix);
  await withDb('postgres', (c) => c.query(`ALTER DATABASE ${db} OWNER TO ${role}`));
  await withDb(db, (c) => c.query(`ALTER SCHEMA public OWNER TO ${role}`));
  return { db, env: { PGDATABASE: db, PGUSER: role, PGPASSWORD: password } };
}

describe('the backup proof', () => {
  it(
    'as a role without CREATEDB: proven by a restore (counts and checksums), and no database ever appears on the target',
    async () => {
      const { db, env } = await appDatabase('bp_role');
      expect((await runMigrator('migrate', { ...env, MIGRATIONS_DIR: migrationsDir('base') })).code).toBe(0);
      const before = await withDb('postgres', async (c) =>
        (await c.query<{ d: string }>('SELECT datname AS d FROM pg_database')).rows.map((r) => r.d),
      );
      // Every 0.1 s during the backup: the databases on the target.
      const seen = new Set<string>();
      let polling = true;
      const poll = withDb('postgres', async (c) => {
        while (polling) {
          for (const r of (await c.query<{ d: string }>('SELECT datname AS d FROM pg_database')).rows)
            seen.add(r.d);
          await new Promise((res) => setTimeout(res, 100));
        }
      });
      const b = await runMigrator('backup', { ...env, BACKUP_DIR: tempDir('bp'), BACKUP_ID: 'p' }).finally(
        () => (polling = false),
      );
      await poll;
      expect(b.result.error).toBeUndefined();
      expect(b.code).toBe(0);
      expect(b.result.backup).toMatchObject({ verified: true, verifiedBy: 'restore' });
      expect(b.result.backup?.unproven).toBeUndefined();
      // Databases created by other test files running meanwhile do not carry this one's name.
      expect([...seen].filter((d) => !before.includes(d) && d.startsWith(db))).toEqual([]);
      expect([...seen].filter((d) => /_dbm_verify_/.test(d))).toEqual([]);
      const meta = JSON.parse(readFileSync(sidecarPath(b.result.backup!.path), 'utf8')) as {
        tables: Record<string, number>;
        checksums: Record<string, string>;
        verifiedBy: string;
      };
      expect(meta.verifiedBy).toBe('restore');
      expect(meta.tables['public.products']).toBeGreaterThan(0);
      expect(Object.keys(meta.checksums).sort()).toEqual(Object.keys(meta.tables).sort());
      expect(meta.checksums['public.products']).toMatch(/^-?\d+$/);
    },
    T,
  );

  it(
    'above BACKUP_PROOF_MAX_BYTES: not restored, verified false, unproven tooLarge, and the step succeeds',
    async () => {
      const { env } = await appDatabase('bp_cap');
      expect((await runMigrator('migrate', { ...env, MIGRATIONS_DIR: migrationsDir('base') })).code).toBe(0);
      const b = await runMigrator('backup', {
        ...env,
        BACKUP_DIR: tempDir('bp'),
        BACKUP_ID: 'c',
        BACKUP_PROOF_MAX_BYTES: '1',
      });
      expect(b.result.error).toBeUndefined();
      expect(b.code).toBe(0);
      expect(b.result.ok).toBe(true);
      expect(b.result.backup).toMatchObject({ verified: false, verifiedBy: 'list', unproven: 'tooLarge' });
      expect(b.result.backup?.verifyNote).toMatch(
        /^not restored to prove it: the database is .* above the proof's cap of .*\(1 bytes\).*spec\.backup\.proof\.maxSize/,
      );
      const meta = JSON.parse(readFileSync(sidecarPath(b.result.backup!.path), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(meta).toMatchObject({ verified: false, verifiedBy: 'list', unproven: 'tooLarge' });
      expect(meta.checksums).toBeUndefined();
    },
    T,
  );

  it('the comparison catches a row changed with the count unchanged, and a row missing', async () => {
    const db = await createDatabase('bp_sum');
    await withDb(db, async (c) => {
      await c.query(`CREATE TABLE t (id int PRIMARY KEY, at timestamptz, v float8, b bytea, i interval)`);
      await c.query(
        `INSERT INTO t SELECT g, '2024-01-01 00:00+02'::timestamptz + g * interval '1 hour', g / 3.0, '\\x0102', interval '1 day 2 hours'
           FROM generate_series(1, 100) g`,
      );
      // The snapshot side, in another session's defaults than the comparison's.
      await c.query(`SET TimeZone = 'Asia/Tokyo'; SET DateStyle = 'German'; SET extra_float_digits = 0`);
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const sums = await snapshotSums(c, ['public.t'], true);
      await c.query('COMMIT');
      expect(sums.counts).toEqual({ 'public.t': 100 });
      const check = compareSumsSql({ counts: sums.counts, checksums: sums.checksums! });
      await c.query('RESET ALL');
      // Equal rows: no difference whatever the session's settings were.
      await c.query(check);
      await c.query(`UPDATE public.t SET v = v + 1e-12 WHERE id = 42`);
      await expect(c.query(check)).rejects.toThrow(
        'table public.t restored with other row contents than the snapshot had (checksum differs, 100 rows on both sides)',
      );
      await c.query(`DELETE FROM public.t WHERE id = 42`);
      await expect(c.query(check)).rejects.toThrow(
        'table public.t restored with 99 rows, the snapshot had 100',
      );
    });
  });
});
