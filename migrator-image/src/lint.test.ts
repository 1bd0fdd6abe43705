import { lintSql, newLintContext } from './lint.js';

const rules = async (sql: string[], ctx = newLintContext()) =>
  (await lintSql('M1700000000000', sql, ctx)).map((f) => `${f.category}:${f.rule}`);

describe('lintSql', () => {
  it('flags destructive and data-loss statements', async () => {
    expect(
      await rules([
        'DROP TABLE a',
        'TRUNCATE b',
        'DELETE FROM c',
        'UPDATE d SET x = 1',
        'DELETE FROM c WHERE id = 1',
      ]),
    ).toEqual([
      'destructive:drop-table',
      'destructive:truncate',
      'dataLoss:delete-without-where',
      'dataLoss:update-without-where',
    ]);
  });
  it('reports DROP COLUMN in three categories and ALTER TYPE as data loss', async () => {
    expect(await rules(['ALTER TABLE a DROP COLUMN x', 'ALTER TABLE a ALTER COLUMN y TYPE text'])).toEqual([
      'destructive:drop-column',
      'dataLoss:drop-column',
      'backwardIncompatible:drop-column',
      'dataLoss:alter-column-type',
    ]);
  });
  it('flags locking hazards but not their safe forms', async () => {
    expect(
      await rules([
        'CREATE INDEX i ON a (x)',
        'CREATE INDEX CONCURRENTLY j ON a (x)',
        'ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES b (id)',
        'ALTER TABLE a ADD CONSTRAINT g FOREIGN KEY (x) REFERENCES b (id) NOT VALID',
        'ALTER TABLE a ALTER COLUMN x SET NOT NULL',
        'ALTER TABLE a ADD COLUMN u uuid DEFAULT gen_random_uuid()',
        "ALTER TABLE a ADD COLUMN v jsonb NOT NULL DEFAULT '{}'",
        'ALTER TABLE a ADD COLUMN w bigserial',
      ]),
    ).toEqual([
      'locking:create-index-not-concurrently',
      'locking:add-foreign-key-validated',
      'locking:set-not-null',
      'locking:add-column-volatile-default',
      'locking:add-column-volatile-default',
    ]);
  });
  it('does not flag an index on a table created in the same plan', async () => {
    const ctx = newLintContext();
    expect(await rules(['CREATE TABLE t (id int)'], ctx)).toEqual([]);
    expect(await rules(['CREATE INDEX ti ON t (id)'], ctx)).toEqual([]);
  });
  it('flags renames as backward incompatible', async () => {
    expect(await rules(['ALTER TABLE a RENAME COLUMN x TO y', 'ALTER TABLE a RENAME TO b'])).toEqual([
      'backwardIncompatible:rename-column',
      'backwardIncompatible:rename-table',
    ]);
  });
});
