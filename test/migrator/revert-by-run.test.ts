// The way back reads the database, not messages: a revert of "what this run
// applied" (REVERT_APPLIED_BY, the run's identity as its history rows record it)
// undoes every one of them even when the migrate result was cut to 4 KiB, and
// nothing applied by another run; run twice, it undoes nothing more.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { appliedNames, createDatabase, runMigrator, tempDir, withDb } from './helpers.js';

const T = 300_000;
const LONG = 'AddAVeryLongAndDescriptiveMigrationNameThatTeamsReallyWrite';

function writeSet(dir: string, count: number, failing: boolean): string[] {
  mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const ts = 1750000000000 + i * 1000;
    const name = `${LONG}${String(i).padStart(3, '0')}${ts}`;
    names.push(name);
    const fail = failing && i === count - 1;
    writeFileSync(
      path.join(dir, `${ts}-${name}.js`),
      `export class ${name} {
  async up(q) { await q.query(${JSON.stringify(fail ? 'SELECT 1/0' : `CREATE TABLE t_${i} (id int)`)}); }
  async down(q) { await q.query(${JSON.stringify(fail ? 'SELECT 1' : `DROP TABLE t_${i}`)}); }
}
`,
    );
  }
  return names;
}

describe('revert what this run applied (REVERT_APPLIED_BY)', () => {
  it(
    '45 long-named migrations applied in each mode, the 46th failing: all 45 reverted from the database although the result was cut',
    async () => {
      const db = await createDatabase('byrun');
      const dir = tempDir('byrun');
      // One migration from an earlier release, applied by another run: it must stay.
      const earlier = writeSet(path.join(dir, 'earlier'), 1, false);
      const first = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: path.join(dir, 'earlier'),
        MIGRATION_AUTHOR: 'apps/shop@1.1',
      });
      expect(first.code).toBe(0);
      // The release: the earlier one plus 45 more and a failing 46th (written over the same names).
      const names = writeSet(path.join(dir, 'release'), 47, true);
      const author = 'apps/shop@2.1';
      const env = { PGDATABASE: db, MIGRATIONS_DIR: path.join(dir, 'release'), TRANSACTION_MODE: 'each' };
      const m = await runMigrator('migrate', { ...env, MIGRATION_AUTHOR: author });
      expect(m.code).toBe(1);
      expect(m.result.error?.migration).toBe(names[46]);
      // The message could not carry them all: the list is cut, the total is not.
      expect(m.result.truncated).toBe(true);
      expect(m.result.migrations!.length).toBeLessThan(45);
      expect(m.result.totals?.applied).toBe(45);
      expect(await appliedNames(db)).toEqual([earlier[0], ...names.slice(1, 46)]);

      const r = await runMigrator('revert', { ...env, MIGRATION_AUTHOR: author, REVERT_APPLIED_BY: author });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.totals?.applied).toBe(45);
      expect(await appliedNames(db)).toEqual(earlier);
      await withDb(db, async (c) => {
        const left = await c.query<{ t: string }>(
          `SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\\_%' ORDER BY 1`,
        );
        expect(left.rows.map((x) => x.t)).toEqual(['t_0']);
      });

      // Again (a revert Job re-created after it vanished): nothing more is undone.
      const again = await runMigrator('revert', {
        ...env,
        MIGRATION_AUTHOR: author,
        REVERT_APPLIED_BY: author,
      });
      expect(again.code).toBe(0);
      expect(again.result.migrations).toEqual([]);
      expect(await appliedNames(db)).toEqual(earlier);
    },
    T,
  );

  it(
    'refuses, before undoing anything, when a newer migration was applied by another run',
    async () => {
      const db = await createDatabase('byrun_foreign');
      const dir = tempDir('byrun-foreign');
      const names = writeSet(dir, 3, false);
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, TRANSACTION_MODE: 'each' };
      // Run 1 applies the first two; run 2 (someone else) the third.
      const only = (n: number) => {
        const d = tempDir('subset');
        writeSet(d, n, false);
        return d;
      };
      expect(
        (await runMigrator('migrate', { ...env, MIGRATIONS_DIR: only(2), MIGRATION_AUTHOR: 'a/x@1.1' })).code,
      ).toBe(0);
      expect((await runMigrator('migrate', { ...env, MIGRATION_AUTHOR: 'b/y@1.1' })).code).toBe(0);
      const r = await runMigrator('revert', { ...env, REVERT_APPLIED_BY: 'a/x@1.1' });
      expect(r.code).toBe(1);
      expect(r.result.error?.message).toMatch(
        /^cannot revert the migrations of a\/x@1\.1: .*applied by b\/y@1\.1, is newer/,
      );
      expect(await appliedNames(db)).toEqual(names);
    },
    T,
  );
});

describe('spec.rollback.steps counted once per run (REVERT_STEPS_ONCE)', () => {
  it(
    'a revert Job of the same run started again reverts nothing more than N in all',
    async () => {
      const db = await createDatabase('steps_once');
      const dir = tempDir('steps-once');
      const names = writeSet(dir, 4, false);
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', { ...env, MIGRATION_AUTHOR: 'apps/shop@1.1' })).code).toBe(0);
      const once = {
        ...env,
        REVERT_STEPS: '2',
        REVERT_STEPS_ONCE: 'true',
        MIGRATION_AUTHOR: 'apps/shop@2.1',
      };
      const first = await runMigrator('revert', once);
      expect(first.result.migrations?.map((m) => m.name)).toEqual([names[3], names[2]]);
      const again = await runMigrator('revert', once);
      expect(again.code).toBe(0);
      expect(again.result.migrations).toEqual([]);
      expect(await appliedNames(db)).toEqual(names.slice(0, 2));
      // Another request (another run) is a new count.
      const next = await runMigrator('revert', {
        ...once,
        REVERT_STEPS: '1',
        MIGRATION_AUTHOR: 'apps/shop@3.1',
      });
      expect(next.result.migrations?.map((m) => m.name)).toEqual([names[1]]);
    },
    T,
  );
});
