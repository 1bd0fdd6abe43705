// spec.verification.queries: each one SELECT, proven with PostgreSQL's own parser
// (libpg-query, as the linter), and run where it cannot get out: a READ ONLY
// transaction the migrator rolls back, each query sent through the extended
// protocol (one Parse message holds one statement, so "SELECT true; COMMIT;
// DELETE ..." cannot end the transaction even if the parser were fooled).
import { parse } from 'libpg-query';
import type pg from 'pg';
import { MigratorError } from './result.js';

const FIELD = 'spec.verification.queries';

/** Statements that write, wherever they appear in the tree (a data-modifying CTE). */
const WRITES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Why a query is not one plain SELECT (undefined: it is one). Never repeats the query. */
export async function readOnlyQueryProblem(sql: string): Promise<string | undefined> {
  let stmts: { stmt?: Record<string, unknown> }[];
  try {
    stmts = ((await parse(sql)) as { stmts?: { stmt?: Record<string, unknown> }[] }).stmts ?? [];
  } catch (err) {
    return `does not parse: ${String((err as Error).message).split('\n')[0]}`;
  }
  if (stmts.length !== 1)
    return `must be exactly one statement (found ${stmts.length}): no ";" between statements`;
  const root = stmts[0]?.stmt ?? {};
  const kind = Object.keys(root)[0] ?? 'nothing';
  if (kind !== 'SelectStmt') return `must be a SELECT (or WITH ... SELECT), not ${statementName(kind)}`;
  return walk(root);
}

function walk(node: unknown): string | undefined {
  if (Array.isArray(node)) {
    for (const n of node) {
      const p = walk(n);
      if (p) return p;
    }
    return undefined;
  }
  if (node === null || typeof node !== 'object') return undefined;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (WRITES.has(key)) {
      const name = statementName(key);
      return `must not modify data (${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name} in a WITH clause)`;
    }
    if (key === 'intoClause' && value) return 'must not create a table (SELECT ... INTO)';
    if (key === 'lockingClause' && Array.isArray(value) && value.length > 0)
      return 'must not lock rows (FOR UPDATE / FOR SHARE)';
    const p = walk(value);
    if (p) return p;
  }
  return undefined;
}

/** InsertStmt → INSERT, TransactionStmt → a transaction command, for the message. */
function statementName(kind: string): string {
  if (kind === 'TransactionStmt') return 'a transaction command (BEGIN, COMMIT, ROLLBACK)';
  const m = /^(.*)Stmt$/.exec(kind);
  return m ? m[1]!.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase() : kind;
}

/** Refuses the first query that is not one plain SELECT, naming the field and its index. */
export async function checkVerifyQueries(queries: readonly string[]): Promise<void> {
  for (const [i, q] of queries.entries()) {
    const problem = await readOnlyQueryProblem(q);
    if (problem) throw new MigratorError(`${FIELD}[${i}] ${problem}`);
  }
}

/** The PostgreSQL client under TypeORM's query runner (PostgresQueryRunner.connect()). */
export interface RawQueryRunner {
  connect(): Promise<unknown>;
}

type ExtendedQuery = pg.QueryArrayConfig & { queryMode: 'extended' };

/**
 * Runs each (already checked) query in one READ ONLY transaction, rolled back,
 * each behind a savepoint so one failing query does not hide the next. Returns
 * the problems, numbered from 1 as the verify record always has.
 */
export async function runVerifyQueries(qr: RawQueryRunner, queries: readonly string[]): Promise<string[]> {
  if (queries.length === 0) return [];
  await checkVerifyQueries(queries);
  return runReadOnly((await qr.connect()) as pg.ClientBase, queries);
}

/** The transaction alone (tested on its own: it holds even for a query the parser let through). */
export async function runReadOnly(client: pg.ClientBase, queries: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  await client.query('BEGIN READ ONLY');
  try {
    for (const [i, q] of queries.entries()) {
      await client.query('SAVEPOINT dbmigrate_verify');
      try {
        const config: ExtendedQuery = { text: q, rowMode: 'array', queryMode: 'extended' };
        const res = await client.query(config);
        const v: unknown = res.rows[0]?.[0];
        if (res.rows.length !== 1 || res.fields.length !== 1 || !(v === true || v === 't'))
          problems.push(`verification query ${i + 1} did not return a single true value`);
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT dbmigrate_verify');
        problems.push(`verification query ${i + 1} failed: ${String((err as Error).message).split('\n')[0]}`);
      }
    }
  } finally {
    await client.query('ROLLBACK');
  }
  return problems;
}
