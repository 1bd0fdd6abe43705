import { validateSpec } from '../database-migration.js';
import { blankQuoted, readOnlySqlProblem } from './read-only-sql.js';
import { minimalSpec } from '../../test/lib/spec.js';

const spec = (queries: string[]) => minimalSpec({ verification: { queries } });

describe('spec.verification.queries, before any run starts', () => {
  it.each([
    ['SELECT true; COMMIT; DELETE FROM product_variants; SELECT true', /one statement/],
    ['SELECT true; SELECT true', /one statement/],
    ['DELETE FROM product_variants', /not DELETE/],
    ['COMMIT', /not COMMIT/],
    ['-- only a comment', /not empty/],
    ['WITH gone AS (DELETE FROM t RETURNING 1) SELECT true', /must not modify data/],
    ['WITH x AS MATERIALIZED (update t SET a = 1 RETURNING 1) SELECT true', /must not modify data/],
    ['SELECT true INTO copy', /SELECT \.\.\. INTO/],
    ['SELECT true FROM t FOR NO KEY UPDATE', /must not lock rows/],
    ['SELECT true FROM t FOR SHARE', /must not lock rows/],
  ])('%s is refused, naming the query', (q, why) => {
    const r = validateSpec(spec(['SELECT true', q]));
    expect(r).toEqual(expect.objectContaining({ ok: false, field: 'spec.verification.queries.1' }));
    expect(r.ok ? '' : r.message).toMatch(why);
  });

  it.each([
    'SELECT true',
    'SELECT true;',
    'select count(*) = 200 from product_variants',
    '(SELECT true)',
    'VALUES (true)',
    'WITH v AS (SELECT price FROM t) SELECT bool_and(price > 0) FROM v',
    "SELECT ';' <> 'x; DELETE FROM t'",
    "SELECT E'it\\'s; DELETE' IS NOT NULL",
    'SELECT $$; COMMIT; $$ IS NOT NULL',
    'SELECT $q$ INTO $q$ IS NOT NULL -- ; DELETE',
    'SELECT "into" FROM t /* ; FOR UPDATE */',
    "SELECT substring('abc' FROM 1 FOR 2) = 'ab'",
    'SELECT bool_and(updated_at > inserted_at) FROM t',
  ])('%s is accepted', (q) => {
    expect(readOnlySqlProblem(q)).toBeUndefined();
    expect(validateSpec(spec([q])).ok).toBe(true);
  });

  it('blanks comments and quoted text, keeping offsets', () => {
    const q = 'SELECT \'a;b\', "c;d", $t$e;f$t$ /* g; /* h */ i */ -- j;\n;';
    const b = blankQuoted(q);
    expect(b).toHaveLength(q.length);
    expect(b.indexOf(';')).toBe(q.length - 1);
  });
});
