// spec.verification.queries cannot write: each is one SELECT (PostgreSQL's own
// parser decides), refused otherwise naming the field and its index, and run in a
// READ ONLY transaction through the extended protocol, rolled back.
import pg from 'pg';
import { readOnlyQueryProblem, runReadOnly } from '../../migrator-image/src/verify-queries.js';
import { adminConfig, appliedNames, createDatabase, migrationsDir, runMigrator, withDb } from './helpers.js';

const T = 120_000;
const HOSTILE = 'SELECT true; COMMIT; DELETE FROM product_variants; SELECT true';
const variants = (db: string) =>
  withDb(db, async (c) => Number((await c.query('SELECT count(*) AS n FROM product_variants')).rows[0].n));

describe('verification queries', () => {
  let db: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createDatabase('verifyro');
    env = { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') };
    expect((await runMigrator('migrate', env)).code).toBe(0);
    expect(await variants(db)).toBe(200);
  }, T);

  it(
    'refuses the query that escaped its transaction, and deletes nothing',
    async () => {
      const run = await runMigrator('verify', {
        ...env,
        VERIFY_QUERIES: JSON.stringify(['SELECT true', HOSTILE]),
      });
      expect(run.code).not.toBe(0);
      expect(run.result.ok).toBe(false);
      expect(run.result.error?.message).toMatch(
        /^spec\.verification\.queries\[1\] must be exactly one statement/,
      );
      expect(await variants(db)).toBe(200);
    },
    T,
  );

  it(
    'refuses a data-modifying CTE before migrate applies anything',
    async () => {
      const fresh = await createDatabase('verifycte');
      const run = await runMigrator('migrate', {
        PGDATABASE: fresh,
        MIGRATIONS_DIR: migrationsDir('base'),
        VERIFY_QUERIES: JSON.stringify([
          'WITH gone AS (DELETE FROM product_variants RETURNING 1) SELECT count(*) = 0 FROM gone',
        ]),
      });
      expect(run.code).not.toBe(0);
      expect(run.result.error?.message).toBe(
        'spec.verification.queries[0] must not modify data (a DELETE in a WITH clause)',
      );
      expect(
        await withDb(
          fresh,
          async (c) => (await c.query(`SELECT to_regclass('product_variants') AS t`)).rows[0].t,
        ),
      ).toBeNull();
    },
    T,
  );

  it(
    'runs a plain SELECT and a WITH ... SELECT',
    async () => {
      const run = await runMigrator('verify', {
        ...env,
        VERIFY_QUERIES: JSON.stringify([
          'SELECT count(*) = 200 FROM product_variants',
          'WITH v AS (SELECT price FROM product_variants) SELECT bool_and(price > 0) FROM v;',
        ]),
      });
      expect(run.result.error).toBeUndefined();
      expect(run.code).toBe(0);
      expect(run.result.verify).toEqual({ pending: [], problems: [] });
      expect((await appliedNames(db)).length).toBeGreaterThan(0);
    },
    T,
  );

  it.each([
    ['SELECT true; SELECT true', /^must be exactly one statement \(found 2\)/],
    [HOSTILE, /^must be exactly one statement \(found 4\)/],
    ['DELETE FROM product_variants', /^must be a SELECT .*not DELETE$/],
    ['COMMIT', /^must be a SELECT .*not a transaction command/],
    ['EXPLAIN ANALYZE DELETE FROM product_variants', /^must be a SELECT .*not EXPLAIN$/],
    ['WITH x AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT true', /must not modify data \(an INSERT/],
    ['WITH x AS (UPDATE t SET a = 1 RETURNING 1) SELECT true FROM x', /must not modify data \(an UPDATE/],
    ['SELECT true INTO copy_of_it', /SELECT \.\.\. INTO/],
    ['SELECT true FROM product_variants FOR UPDATE', /must not lock rows/],
    ['SELECT true FROM (SELECT 1 FROM product_variants FOR SHARE) s', /must not lock rows/],
    ['-- nothing', /found 0/],
    ['SELEC true', /^does not parse/],
  ])('refuses %s', async (q, why) => {
    expect(await readOnlyQueryProblem(q)).toMatch(why);
  });

  it.each([
    'SELECT true',
    'VALUES (true)',
    "SELECT ';' <> 'COMMIT'",
    'WITH a AS (SELECT 1) SELECT true FROM a',
  ])('accepts %s', async (q) => {
    expect(await readOnlyQueryProblem(q)).toBeUndefined();
  });

  it(
    'the transaction holds on its own: one statement per query, nothing written',
    async () => {
      const c = new pg.Client(adminConfig(db));
      await c.connect();
      try {
        const problems = await runReadOnly(c, [
          HOSTILE,
          'DELETE FROM product_variants RETURNING true',
          'SELECT true',
        ]);
        expect(problems).toEqual([
          expect.stringMatching(
            /^verification query 1 failed: cannot insert multiple commands into a prepared statement/,
          ),
          expect.stringMatching(
            /^verification query 2 failed: cannot execute DELETE in a read-only transaction/,
          ),
        ]);
      } finally {
        await c.end();
      }
      expect(await variants(db)).toBe(200);
    },
    T,
  );
});
