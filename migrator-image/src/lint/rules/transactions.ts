// Statements that cannot run in a transaction block, long ACCESS EXCLUSIVE
// holds inside one, and lock-taking statements without a lock_timeout.
import { asNode, display, hasOption, relName } from '../ast.js';
import { isNew } from '../context.js';
import { accessExclusiveTable } from '../locking.js';
import { alterCmds, type Stmt } from '../rule.js';

/** What the statement is when PostgreSQL refuses it inside a transaction block. */
function nonTransactional(kind: string, body: Record<string, unknown>): string | undefined {
  switch (kind) {
    case 'IndexStmt':
      return body.concurrent ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return body.concurrent ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt':
      return hasOption(body.params, 'concurrently') ? 'REINDEX CONCURRENTLY' : undefined;
    case 'VacuumStmt':
      return body.is_vacuumcmd ? 'VACUUM' : undefined;
    case 'CreatedbStmt':
      return 'CREATE DATABASE';
    case 'DropdbStmt':
      return 'DROP DATABASE';
    case 'AlterSystemStmt':
      return 'ALTER SYSTEM';
    case 'CreateTableSpaceStmt':
      return 'CREATE TABLESPACE';
    case 'AlterTableStmt':
      return alterCmds(body).some(
        (c) => c.subtype === 'AT_DetachPartition' && asNode(asNode(c.def)?.PartitionCmd)?.concurrent,
      )
        ? 'DETACH PARTITION CONCURRENTLY'
        : undefined;
    default:
      return undefined;
  }
}

/** A lock that queues behind long queries and blocks everyone behind it. */
function blockingLockTable(s: Stmt): string | undefined {
  const { kind, body, ctx } = s;
  const ae = accessExclusiveTable(kind, body, ctx);
  if (ae) return ae;
  if ((kind === 'IndexStmt' && !body.concurrent) || kind === 'CreateTrigStmt') {
    const t = relName(body.relation);
    return isNew(ctx, 'tables', t) ? undefined : t;
  }
  return undefined;
}

export function transactions(s: Stmt): void {
  const { kind, body, ctx, report } = s;
  if (kind === 'TransactionStmt' || kind === 'VariableSetStmt') return;
  const what = nonTransactional(kind, body);
  if (what && ctx.tx.open)
    report('non-transactional-in-transaction', `${what} cannot run inside a transaction block`);
  if (ctx.tx.open && ctx.tx.exclusive && !ctx.tx.reported) {
    ctx.tx.reported = true;
    report(
      'statements-after-access-exclusive',
      `statements run after ACCESS EXCLUSIVE on ${display(ctx.tx.exclusive)} in the same transaction, holding it longer`,
    );
  }
  if (ctx.options.requireLockTimeout && !ctx.lockTimeoutSet && !ctx.lockTimeoutReported) {
    const t = blockingLockTable(s);
    if (t) {
      ctx.lockTimeoutReported = true;
      report('lock-timeout-missing', `locks ${display(t)} without SET lock_timeout first`);
    }
  }
}
