// Renames in the plan context: an object created earlier in the plan keeps
// counting as new under its new name (TypeORM renames an enum it created to
// `*_old`, creates the new one, then drops `*_old`), column types follow their
// column, and the held ACCESS EXCLUSIVE lock follows its renamed table.
import { listName, relName, type Node } from './ast.js';
import type { Created, LintContext } from './context.js';

function renamed(qualified: string, to: string): string {
  return `${qualified.slice(0, qualified.indexOf('.'))}.${to}`;
}

/** Which created-set a renamed relation-like object lives in. */
const RELATION_KINDS: Record<string, keyof Created> = {
  OBJECT_TABLE: 'tables',
  OBJECT_VIEW: 'tables',
  OBJECT_MATVIEW: 'tables',
  OBJECT_FOREIGN_TABLE: 'tables',
  OBJECT_INDEX: 'indexes',
  OBJECT_SEQUENCE: 'sequences',
};

export function trackRename(ctx: LintContext, body: Node): void {
  const c = ctx.created;
  const type = String(body.renameType);
  const to = String(body.newname);
  const setKind = RELATION_KINDS[type];
  if (setKind) {
    const from = relName(body.relation);
    if (c[setKind].has(from)) c[setKind].add(renamed(from, to));
    if (ctx.tx.exclusive === from) ctx.tx.exclusive = renamed(from, to);
    return;
  }
  if (type === 'OBJECT_TYPE' || type === 'OBJECT_DOMAIN') {
    const from = listName(body.object);
    if (c.types.has(from)) c.types.add(renamed(from, to));
    return;
  }
  if (type === 'OBJECT_COLUMN') {
    const t = relName(body.relation);
    const from = `${t}.${String(body.subname)}`;
    const colType = ctx.columnTypes.get(from);
    if (colType) ctx.columnTypes.set(`${t}.${to}`, colType);
    if (c.columns.has(from)) c.columns.add(`${t}.${to}`);
    return;
  }
  if (type === 'OBJECT_TABCONSTRAINT') {
    const t = relName(body.relation);
    if (c.constraints.has(`${t}.${String(body.subname)}`)) c.constraints.add(`${t}.${to}`);
  }
}
