// Updates the plan context after each statement: what now exists, column
// types, validated NOT NULL checks, the transaction state. Rules see the
// context as it was before their statement.
import {
  asList,
  asNode,
  listName,
  notNullColumn,
  qualify,
  relName,
  strings,
  typeInfo,
  type Node,
} from './ast.js';
import type { LintContext } from './context.js';
import { accessExclusiveTable } from './locking.js';
import { alterCmds, type Stmt } from './rule.js';
import { trackRename } from './track-rename.js';

function addColumns(ctx: LintContext, table: string, elts: unknown, markCreated: boolean): void {
  for (const e of asList(elts)) {
    const def = asNode(e.ColumnDef);
    if (!def) continue;
    const key = `${table}.${String(def.colname)}`;
    const type = typeInfo(def.typeName);
    if (type) ctx.columnTypes.set(key, type);
    if (markCreated) ctx.created.columns.add(key);
  }
}

/** Records a CHECK constraint: validated ones prove NOT NULL / partition bounds, NOT VALID ones wait for VALIDATE. */
function addCheck(ctx: LintContext, t: string, con: Node): void {
  if (con.contype !== 'CONSTR_CHECK') return;
  const key = `${t}.${String(con.conname ?? '')}`;
  const col = notNullColumn(con.raw_expr);
  if (col) ctx.pendingNotNull.set(key, col);
  if (con.skip_validation) {
    ctx.pendingChecks.add(key);
  } else {
    ctx.checkedTables.add(t);
    if (col) ctx.notNullChecked.add(`${t}.${col}`);
  }
}

/**
 * Records a CREATE TABLE's columns and CHECK constraints (and those of ALTER
 * TABLE ADD COLUMN / ADD CONSTRAINT) without marking anything new: a seeded,
 * pre-existing schema, e.g. the target's pg_dump.
 */
export function seedStatement(ctx: LintContext, kind: string, body: Record<string, unknown>): void {
  const t = relName(body.relation);
  if (kind === 'CreateStmt') {
    addColumns(ctx, t, body.tableElts, false);
    for (const e of asList(body.tableElts)) {
      const con = asNode(e.Constraint);
      if (con) addCheck(ctx, t, con);
    }
  }
  if (kind === 'AlterTableStmt')
    for (const cmd of alterCmds(body)) {
      if (cmd.subtype === 'AT_AddColumn') addColumns(ctx, t, [cmd.def], false);
      const con = asNode(asNode(cmd.def)?.Constraint);
      if (cmd.subtype === 'AT_AddConstraint' && con) addCheck(ctx, t, con);
    }
}

function volatility(options: unknown): boolean {
  const v = asList(options)
    .map((o) => asNode(o.DefElem))
    .find((d) => d?.defname === 'volatility');
  // CREATE FUNCTION defaults to VOLATILE.
  return String(asNode(asNode(v?.arg)?.String)?.sval ?? 'volatile') === 'volatile';
}

export function track({ kind, body, ctx }: Omit<Stmt, 'report'>): void {
  const c = ctx.created;
  if (ctx.tx.open && !ctx.tx.exclusive) {
    const ae = accessExclusiveTable(kind, body, ctx);
    if (ae) ctx.tx.exclusive = ae;
  }
  switch (kind) {
    case 'TransactionStmt': {
      const k = String(body.kind);
      if (k === 'TRANS_STMT_BEGIN' || k === 'TRANS_STMT_START') ctx.tx = { open: true, reported: false };
      else if (k === 'TRANS_STMT_COMMIT' || k === 'TRANS_STMT_ROLLBACK' || k === 'TRANS_STMT_PREPARE')
        ctx.tx = { open: false, reported: false };
      break;
    }
    case 'VariableSetStmt':
      if (body.name === 'lock_timeout') ctx.lockTimeoutSet = body.kind === 'VAR_SET_VALUE';
      break;
    case 'CreateStmt': {
      const t = relName(body.relation);
      c.tables.add(t);
      addColumns(ctx, t, body.tableElts, true);
      break;
    }
    case 'CreateTableAsStmt':
      c.tables.add(relName(asNode(body.into)?.rel));
      break;
    case 'ViewStmt':
      c.tables.add(relName(body.view));
      break;
    case 'IndexStmt':
      if (body.idxname)
        c.indexes.add(qualify(asNode(body.relation)?.schemaname as string | undefined, String(body.idxname)));
      break;
    case 'CreateSeqStmt':
      c.sequences.add(relName(body.sequence));
      break;
    case 'CreateEnumStmt':
    case 'CompositeTypeStmt':
    case 'CreateDomainStmt':
    case 'CreateRangeStmt': {
      // CreateDomainStmt's typeName is the base type; its own name is domainname.
      const names = strings(kind === 'CreateDomainStmt' ? body.domainname : body.typeName);
      const t =
        kind === 'CompositeTypeStmt'
          ? relName(body.typevar)
          : qualify(names.length > 1 ? names[0] : undefined, names[names.length - 1] ?? '?');
      c.types.add(t);
      break;
    }
    case 'CreateFunctionStmt': {
      const f = listName(body.funcname);
      c.functions.add(f);
      ctx.planFunctions.set(f.slice(f.indexOf('.') + 1).toLowerCase(), volatility(body.options));
      break;
    }
    case 'CreateSchemaStmt':
      c.schemas.add(String(body.schemaname));
      break;
    case 'CreateExtensionStmt':
      c.extensions.add(String(body.extname));
      break;
    case 'CreateTrigStmt':
      c.triggers.add(`${relName(body.relation)}.${String(body.trigname)}`);
      break;
    case 'RenameStmt':
      trackRename(ctx, body);
      break;
    case 'AlterTableStmt': {
      const t = relName(body.relation);
      for (const cmd of alterCmds(body)) {
        if (cmd.subtype === 'AT_AddColumn') addColumns(ctx, t, [cmd.def], true);
        if (cmd.subtype === 'AT_SetNotNull') ctx.setNotNull.add(`${t}.${String(cmd.name)}`);
        if (cmd.subtype === 'AT_AlterColumnType') {
          const type = typeInfo(asNode(asNode(cmd.def)?.ColumnDef)?.typeName);
          if (type) ctx.columnTypes.set(`${t}.${String(cmd.name)}`, type);
        }
        if (cmd.subtype === 'AT_AddConstraint') {
          const con = asNode(asNode(cmd.def)?.Constraint);
          if (!con) continue;
          const key = `${t}.${String(con.conname ?? '')}`;
          if (con.conname) c.constraints.add(key);
          if (con.conname && con.skip_validation && ctx.tx.open)
            (ctx.tx.notValid ??= new Map()).set(key, String(con.contype));
          addCheck(ctx, t, con);
        }
        if (cmd.subtype === 'AT_ValidateConstraint') {
          const key = `${t}.${String(cmd.name)}`;
          if (ctx.pendingChecks.has(key)) ctx.checkedTables.add(t);
          const col = ctx.pendingNotNull.get(key);
          if (col) ctx.notNullChecked.add(`${t}.${col}`);
        }
      }
      break;
    }
  }
}
