// transactionMode none: a down() that fails half-way leaves part of its work
// done with the migration still recorded applied. That is on record (a
// `reverting` history row written before down() ran) and verify names it
// half-reverted, never "all is well".
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { appliedNames, createDatabase, runMigrator, tempDir, withDb } from './helpers.js';

it('none mode: a down() failing half-way is reported half-reverted by verify', async () => {
  const db = await createDatabase('revnone');
  const dir = tempDir('revnone');
  writeFileSync(
    path.join(dir, '1780000000000-ThreeTables.js'),
    `export class ThreeTables1780000000000 {
  async up(q) {
    await q.query('CREATE TABLE a1 (id int)');
    await q.query('CREATE TABLE a2 (id int)');
    await q.query('CREATE TABLE a3 (id int)');
  }
  async down(q) {
    await q.query('DROP TABLE a1');
    await q.query('DROP TABLE a2');
    await q.query('DROP TABLE no_such_table');
  }
}
`,
  );
  const env = {
    PGDATABASE: db,
    MIGRATIONS_DIR: dir,
    TRANSACTION_MODE: 'none',
    MIGRATION_AUTHOR: 'apps/x@1.1',
  };
  expect((await runMigrator('migrate', env)).code).toBe(0);
  const r = await runMigrator('revert', { ...env, REVERT_APPLIED_BY: 'apps/x@1.1' });
  expect(r.code).toBe(1);
  expect(r.result.error?.migration).toBe('ThreeTables1780000000000');
  // Half-way: two tables dropped, the migration still recorded applied.
  expect(await appliedNames(db)).toEqual(['ThreeTables1780000000000']);
  await withDb(db, async (c) => {
    const t = await c.query(`SELECT to_regclass('a1') AS a1, to_regclass('a3') AS a3`);
    expect(t.rows[0]).toEqual({ a1: null, a3: 'a3' });
  });
  const v = await runMigrator('verify', env);
  expect(v.code).toBe(1);
  expect(v.result.verify?.problems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^migration ThreeTables1780000000000's down\(\) started outside a transaction .* may be half-reverted/,
      ),
    ]),
  );
}, 120_000);
