// Renames of objects that running code refers to by name.
import { display, listName, relName } from '../ast.js';
import { isNew } from '../context.js';
import type { Stmt } from '../rule.js';

export function renames({ kind, body, ctx, report }: Stmt): void {
  if (kind !== 'RenameStmt') return;
  const to = String(body.newname ?? '?');
  switch (body.renameType) {
    case 'OBJECT_TABLE':
    case 'OBJECT_VIEW':
    case 'OBJECT_MATVIEW':
    case 'OBJECT_FOREIGN_TABLE': {
      const t = relName(body.relation);
      if (!isNew(ctx, 'tables', t) && !ctx.standIns.has(t))
        report('rename-table', `RENAME ${display(t)} TO ${to} breaks code using the old name`);
      break;
    }
    case 'OBJECT_COLUMN': {
      const t = relName(body.relation);
      const col = String(body.subname ?? '?');
      const kept = ctx.created.columns.has(`${t}.${col}`) || ctx.standIns.has(`${t}.${col}`);
      if (!isNew(ctx, 'tables', t) && !kept)
        report('rename-column', `RENAME COLUMN ${display(t)}.${col} TO ${to} breaks code using the old name`);
      break;
    }
    case 'OBJECT_TABCONSTRAINT': {
      const t = relName(body.relation);
      const con = String(body.subname ?? '?');
      if (!isNew(ctx, 'tables', t) && !ctx.created.constraints.has(`${t}.${con}`))
        report('rename-constraint', `RENAME CONSTRAINT ${con} on ${display(t)} TO ${to}`);
      break;
    }
    case 'OBJECT_SCHEMA': {
      const s = String(body.subname ?? '?');
      if (!ctx.created.schemas.has(s))
        report('rename-schema', `RENAME SCHEMA ${s} TO ${to} breaks qualified names`);
      break;
    }
    case 'OBJECT_TYPE':
    case 'OBJECT_DOMAIN': {
      const ty = listName(body.object);
      if (!isNew(ctx, 'types', ty))
        report('rename-type', `RENAME TYPE ${display(ty)} TO ${to} breaks casts using the old name`);
      break;
    }
  }
}
