// Which statements take ACCESS EXCLUSIVE (or another write-blocking lock) on an
// existing table; shared by the transaction rules.
import { asList, asNode, hasOption, relName, type Node } from './ast.js';
import { absentIfExists, isNew, type LintContext } from './context.js';
import { alterCmds } from './rule.js';

/** ALTER TABLE subcommands that take less than ACCESS EXCLUSIVE. */
const WEAKER = new Set([
  'AT_ValidateConstraint', // SHARE UPDATE EXCLUSIVE
  'AT_AttachPartition', // SHARE UPDATE EXCLUSIVE on the parent
  'AT_SetStatistics',
  'AT_ClusterOn',
  'AT_DisableTrig',
  'AT_DisableTrigAll',
  'AT_DisableTrigUser',
  'AT_EnableTrig',
  'AT_EnableTrigAll',
  'AT_EnableTrigUser',
]);

function alterIsExclusive(body: Node): boolean {
  return alterCmds(body).some((cmd) => {
    const sub = String(cmd.subtype);
    if (WEAKER.has(sub)) return false;
    if (sub === 'AT_DetachPartition') return !asNode(asNode(cmd.def)?.PartitionCmd)?.concurrent;
    // ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on both tables.
    if (sub === 'AT_AddConstraint') return asNode(asNode(cmd.def)?.Constraint)?.contype !== 'CONSTR_FOREIGN';
    return true;
  });
}

/** The existing table a statement locks ACCESS EXCLUSIVE, if any. */
export function accessExclusiveTable(kind: string, body: Node, ctx: LintContext): string | undefined {
  const existing = (t: string) => (isNew(ctx, 'tables', t) ? undefined : t);
  switch (kind) {
    case 'AlterTableStmt':
      return alterIsExclusive(body) ? existing(relName(body.relation)) : undefined;
    case 'TruncateStmt':
      return asList(body.relations)
        .map((r) => existing(relName(r.RangeVar)))
        .find(Boolean);
    case 'LockStmt':
      return body.mode === 8
        ? asList(body.relations)
            .map((r) => existing(relName(r.RangeVar)))
            .find(Boolean)
        : undefined;
    case 'RenameStmt':
      if (!body.relation) return undefined;
      // ALTER INDEX ... RENAME locks the index; one created earlier in the plan is nobody's yet.
      if (body.renameType === 'OBJECT_INDEX')
        return isNew(ctx, 'indexes', relName(body.relation)) ? undefined : relName(body.relation);
      return existing(relName(body.relation));
    case 'RefreshMatViewStmt':
      return body.concurrent ? undefined : existing(relName(body.relation));
    case 'ClusterStmt':
      return body.relation ? existing(relName(body.relation)) : undefined;
    case 'VacuumStmt':
      return hasOption(body.options, 'full')
        ? asList(body.rels)
            .map((r) => existing(relName(asNode(r.VacuumRelation)?.relation)))
            .find(Boolean)
        : undefined;
    case 'DropStmt':
      if (body.removeType === 'OBJECT_TABLE' || body.removeType === 'OBJECT_MATVIEW')
        return asList(body.objects)
          .map((o) => (absentIfExists(ctx, 'tables', body, dropName(o)) ? undefined : existing(dropName(o))))
          .find(Boolean);
      if (body.removeType === 'OBJECT_INDEX' && !body.concurrent)
        return asList(body.objects)
          .map((o) => dropName(o))
          .find((i) => !isNew(ctx, 'indexes', i) && !absentIfExists(ctx, 'indexes', body, i));
      return undefined;
    default:
      return undefined;
  }
}

/** The qualified name of one DropStmt object (List of name parts). */
export function dropName(o: Node): string {
  const items = asList(asNode(o.List)?.items).map((i) => String(asNode(i.String)?.sval ?? ''));
  const name = items[items.length - 1] ?? '?';
  return `${items.length > 1 ? items[items.length - 2] : 'public'}.${name}`;
}
