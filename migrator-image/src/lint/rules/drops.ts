// DROP of anything that exists before the plan, CASCADE, TRUNCATE, and
// DELETE/UPDATE without WHERE.
import { asList, asNode, display, qualify, relName, strings, withDml, type Node } from '../ast.js';
import { absentIfExists, isNew, type Created, type LintContext } from '../context.js';
import { dropName } from '../locking.js';
import type { RuleId } from '../rule-catalog.js';
import { alterCmds, type Stmt } from '../rule.js';

/** The qualified name of one DropStmt object, whatever node shape its type uses. */
export function dropObjectName(o: Node): string {
  if (o.List) return dropName(o);
  if (o.String) return String(asNode(o.String)?.sval ?? '?');
  const parts = o.TypeName
    ? strings(asNode(o.TypeName)?.names)
    : o.ObjectWithArgs
      ? strings(asNode(o.ObjectWithArgs)?.objname)
      : [];
  return qualify(parts.length > 1 ? parts[parts.length - 2] : undefined, parts[parts.length - 1] ?? '?');
}

const DROPS: Record<string, [RuleId, string, keyof Created | undefined]> = {
  OBJECT_TABLE: ['drop-table', 'TABLE', 'tables'],
  OBJECT_SCHEMA: ['drop-schema', 'SCHEMA', 'schemas'],
  OBJECT_TYPE: ['drop-type', 'TYPE', 'types'],
  OBJECT_DOMAIN: ['drop-type', 'DOMAIN', 'types'],
  OBJECT_VIEW: ['drop-view', 'VIEW', 'tables'],
  OBJECT_MATVIEW: ['drop-materialized-view', 'MATERIALIZED VIEW', 'tables'],
  OBJECT_FUNCTION: ['drop-function', 'FUNCTION', 'functions'],
  OBJECT_PROCEDURE: ['drop-procedure', 'PROCEDURE', 'functions'],
  OBJECT_ROUTINE: ['drop-function', 'ROUTINE', 'functions'],
  OBJECT_TRIGGER: ['drop-trigger', 'TRIGGER', 'triggers'],
  OBJECT_SEQUENCE: ['drop-sequence', 'SEQUENCE', 'sequences'],
  OBJECT_EXTENSION: ['drop-extension', 'EXTENSION', 'extensions'],
};

function isNewObject(
  ctx: LintContext,
  kind: keyof Created | undefined,
  removeType: string,
  name: string,
): boolean {
  if (!kind) return false;
  if (removeType === 'OBJECT_SCHEMA') return ctx.created.schemas.has(name);
  if (removeType === 'OBJECT_EXTENSION') return ctx.created.extensions.has(name);
  if (removeType === 'OBJECT_TRIGGER') {
    // `schema.table.trigger`: a trigger of a table created in the plan is new too.
    return ctx.created.triggers.has(name) || isNew(ctx, 'tables', name.slice(0, name.lastIndexOf('.')));
  }
  return isNew(ctx, kind, name);
}

export function drops({ kind, body, ctx, report }: Stmt): void {
  switch (kind) {
    case 'DropStmt': {
      const removeType = String(body.removeType);
      const spec = DROPS[removeType];
      const names = asList(body.objects).map((o) =>
        removeType === 'OBJECT_TRIGGER' ? triggerName(o) : dropObjectName(o),
      );
      const old = names.filter(
        (n) => !isNewObject(ctx, spec?.[2], removeType, n) && !absentIfExists(ctx, spec?.[2], body, n),
      );
      if (spec && old.length > 0) report(spec[0], `DROP ${spec[1]} ${old.map(display).join(', ')}`);
      if (body.behavior === 'DROP_CASCADE' && (old.length > 0 || !spec))
        report(
          'drop-cascade',
          `DROP ... CASCADE of ${old.map(display).join(', ')} also drops every dependent object`,
        );
      break;
    }
    case 'DropdbStmt':
      report('drop-database', `DROP DATABASE ${String(body.dbname ?? '')}`);
      break;
    case 'TruncateStmt': {
      const old = asList(body.relations)
        .map((r) => relName(r.RangeVar))
        .filter((t) => !isNew(ctx, 'tables', t));
      if (old.length > 0) report('truncate', `TRUNCATE ${old.map(display).join(', ')} deletes every row`);
      if (old.length > 0 && body.behavior === 'DROP_CASCADE')
        report('drop-cascade', `TRUNCATE ... CASCADE also empties every referencing table`);
      break;
    }
    case 'SelectStmt':
    case 'InsertStmt':
    case 'DeleteStmt':
    case 'UpdateStmt':
      for (const [k, b] of withDml(kind, body)) {
        if (k !== 'DeleteStmt' && k !== 'UpdateStmt') continue;
        const t = relName(b.relation);
        if (b.whereClause || isNew(ctx, 'tables', t) || t.startsWith('pg_catalog.')) continue;
        if (k === 'DeleteStmt') report('delete-without-where', `DELETE FROM ${display(t)} without WHERE`);
        else report('update-without-where', `UPDATE ${display(t)} without WHERE rewrites every row`);
      }
      break;
    case 'AlterTableStmt': {
      if (body.objtype !== 'OBJECT_TABLE') return;
      const table = relName(body.relation);
      if (isNew(ctx, 'tables', table)) return;
      const t = display(table);
      for (const cmd of alterCmds(body)) {
        const name = String(cmd.name ?? '?');
        if (cmd.subtype === 'AT_DropColumn' && !ctx.created.columns.has(`${table}.${name}`))
          report('drop-column', `DROP COLUMN ${t}.${name}`);
        if (
          cmd.subtype === 'AT_DropConstraint' &&
          !ctx.created.constraints.has(`${table}.${name}`) &&
          !redundantNotNullCheck(ctx, table, name)
        )
          report('drop-constraint', `DROP CONSTRAINT ${name} on ${t}`);
        if (cmd.subtype === 'AT_ColumnDefault' && !cmd.def && !ctx.created.columns.has(`${table}.${name}`))
          report('drop-default', `DROP DEFAULT on ${t}.${name}: inserts omitting it change behaviour`);
        if (
          (cmd.subtype === 'AT_DropColumn' || cmd.subtype === 'AT_DropConstraint') &&
          cmd.behavior === 'DROP_CASCADE'
        )
          report('drop-cascade', `DROP ${name} on ${t} CASCADE also drops dependent objects`);
      }
      break;
    }
  }
}

/**
 * A validated `CHECK (col IS NOT NULL)` on a column since set NOT NULL: the
 * column enforces it now, so dropping the check is the documented last step
 * (strong_migrations "Setting NOT NULL on an existing column"), not a loss.
 */
function redundantNotNullCheck(ctx: LintContext, table: string, name: string): boolean {
  const col = ctx.pendingNotNull.get(`${table}.${name}`);
  return !!col && ctx.notNullChecked.has(`${table}.${col}`) && ctx.setNotNull.has(`${table}.${col}`);
}

/** `schema.table.trigger` of a DROP TRIGGER object (List [schema?, table, trigger]). */
function triggerName(o: Node): string {
  const items = strings(asNode(o.List)?.items);
  const trig = items[items.length - 1] ?? '?';
  const table = items.slice(0, -1);
  return `${qualify(table.length > 1 ? table[0] : undefined, table[table.length - 1] ?? '?')}.${trig}`;
}
