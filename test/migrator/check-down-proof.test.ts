// The down() proof compares the catalog after each down() with the catalog
// before its up(), one catalog query each way per migration. A down() whose
// leftover is a catalog detail (a default, a CHECK expression, an index
// method) is found by name, with the readable difference; an exact one passes.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fullResultFromLog, type JobResult } from '../../crds/job-result.js';
import { createDatabase, runMigrator, tempDir, withDb } from './helpers.js';

const T = 240_000;

function migrations(list: Array<[string, string[], string[]]>): string {
  const dir = tempDir('down-proof');
  list.forEach(([name, up, down], i) => {
    const ts = 1800000000000 + i * 1000;
    const body = (sqls: string[]) => sqls.map((q) => `    await qr.query(${JSON.stringify(q)});`).join('\n');
    writeFileSync(
      path.join(dir, `${ts}-${name}.js`),
      `export class ${name}${ts} {\n  async up(qr) {\n${body(up)}\n  }\n  async down(qr) {\n${body(down)}\n  }\n}\n`,
    );
  });
  return dir;
}

describe('check: the down() proof', () => {
  it(
    'finds a changed default, CHECK expression and index method each by name; an exact down() passes',
    async () => {
      const db = await createDatabase('down_proof');
      await withDb(db, async (c) => {
        await c.query(`CREATE TABLE f (id int, n int DEFAULT 1 CONSTRAINT f_n_check CHECK (n > 0))`);
        await c.query(`CREATE INDEX f_id_idx ON f (id)`);
      });
      const dir = migrations([
        [
          'DefaultLeft',
          [`ALTER TABLE f ALTER COLUMN n SET DEFAULT 5`],
          [`ALTER TABLE f ALTER COLUMN n SET DEFAULT 2`],
        ],
        [
          'CheckLeft',
          [`ALTER TABLE f DROP CONSTRAINT f_n_check`],
          [`ALTER TABLE f ADD CONSTRAINT f_n_check CHECK (n > 1)`],
        ],
        ['IndexLeft', [`DROP INDEX f_id_idx`], [`CREATE INDEX f_id_idx ON f USING hash (id)`]],
        ['Exact', [`ALTER TABLE f ADD COLUMN z int DEFAULT 0`], [`ALTER TABLE f DROP COLUMN z`]],
      ]);
      const run = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        TRANSACTION_MODE: 'each',
      });
      expect(run.result.error).toBeUndefined();
      const plan = (JSON.parse(fullResultFromLog(run.stdout) ?? '{}') as JobResult).plan!;
      const found = plan.findings
        .filter((f) => f.rule === 'irreversible-down')
        .map((f) => [f.migration.replace(/\d+$/, ''), f.message]);
      expect(found).toEqual([
        ['IndexLeft', expect.stringMatching(/leaves a different schema: .*USING hash/)],
        ['CheckLeft', expect.stringMatching(/leaves a different schema: .*\(n > 1\)/)],
        ['DefaultLeft', expect.stringMatching(/leaves a different schema: .*default 2/)],
      ]);
      expect(plan.shadow?.reversibility).toBe('failed');
      // One catalog query per up() and one per down(): none after the up() (nothing reads it).
      const finished = JSON.parse(
        run.stdout.split('\n').find((l) => l.includes('"check finished"')) ?? '{}',
      ) as {
        catalogSnapshots?: number;
      };
      expect(finished).toMatchObject({ catalogSnapshots: 4 + 4 });
    },
    T,
  );
});
