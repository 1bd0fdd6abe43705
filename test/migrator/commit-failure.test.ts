// A migration whose COMMIT fails (a deferred constraint checked at commit) is
// not applied: in `each` mode it is reported failed, never applied, and the
// migrations before it stay applied and reported.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { appliedNames, createDatabase, runMigrator, tempDir } from './helpers.js';

it('each mode: a COMMIT that fails on a deferred constraint reports the migration failed, not applied', async () => {
  const db = await createDatabase('commitfail');
  const dir = tempDir('commitfail');
  writeFileSync(
    path.join(dir, '1760000000000-CreateCodes.js'),
    `export class CreateCodes1760000000000 {
  async up(q) { await q.query('CREATE TABLE codes (code int, CONSTRAINT codes_unique UNIQUE (code) DEFERRABLE INITIALLY DEFERRED)'); }
  async down(q) { await q.query('DROP TABLE codes'); }
}
`,
  );
  writeFileSync(
    path.join(dir, '1760000001000-DuplicateCodes.js'),
    `export class DuplicateCodes1760000001000 {
  async up(q) { await q.query('INSERT INTO codes VALUES (1), (1)'); }
  async down(q) { await q.query('DELETE FROM codes'); }
}
`,
  );
  const run = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: dir, TRANSACTION_MODE: 'each' });
  expect(run.code).toBe(1);
  expect(run.result.error?.code).toBe('23505');
  expect(run.result.error?.migration).toBe('DuplicateCodes1760000001000');
  expect(run.result.migrations).toEqual([
    expect.objectContaining({ name: 'CreateCodes1760000000000', outcome: 'applied' }),
    expect.objectContaining({ name: 'DuplicateCodes1760000001000', outcome: 'failed' }),
  ]);
  expect(run.result.totals?.applied).toBe(1);
  expect(await appliedNames(db)).toEqual(['CreateCodes1760000000000']);
}, 120_000);
