// Enum changes: renamed values, values that cannot be removed again, ADD VALUE
// inside a transaction, and the catalog-surgery way of "removing" a value.
import { display, qualify, relName, strings, withDml } from '../ast.js';
import { isNew } from '../context.js';
import type { Stmt } from '../rule.js';

export function enums({ kind, body, ctx, report }: Stmt): void {
  if (kind === 'AlterEnumStmt') {
    const parts = strings(body.typeName);
    const ty = qualify(parts.length > 1 ? parts[0] : undefined, parts[parts.length - 1] ?? '?');
    // An enum created in this plan has no readers yet; PostgreSQL 12+ also allows using its new values at once.
    if (isNew(ctx, 'types', ty)) return;
    const t = display(ty);
    if (body.oldVal !== undefined) {
      report(
        'enum-rename-value',
        `RENAME VALUE '${String(body.oldVal)}' of ${t} TO '${String(body.newVal)}'`,
      );
      return;
    }
    report('enum-add-value', `ADD VALUE '${String(body.newVal)}' to ${t} cannot be undone by down()`);
    if (ctx.tx.open)
      report(
        'enum-add-value-in-transaction',
        `ADD VALUE '${String(body.newVal)}' to ${t} inside a transaction: unusable until COMMIT (fails before PG 12)`,
      );
    return;
  }
  for (const [k, b] of withDml(kind, body)) {
    if (k !== 'DeleteStmt' && k !== 'UpdateStmt' && k !== 'InsertStmt') continue;
    const r = relName(b.relation);
    const name = r.slice(r.indexOf('.') + 1);
    if (r.startsWith('pg_catalog.') || (r.startsWith('public.pg_') && CATALOG.has(name)))
      report(
        'modify-system-catalog',
        `${k.replace('Stmt', '').toUpperCase()} on ${name} edits the system catalog`,
      );
  }
}

const CATALOG = new Set([
  'pg_enum',
  'pg_type',
  'pg_class',
  'pg_attribute',
  'pg_constraint',
  'pg_index',
  'pg_proc',
  'pg_namespace',
  'pg_depend',
]);
