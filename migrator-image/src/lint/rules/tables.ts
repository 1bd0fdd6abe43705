// Column and table-level ALTER TABLE hazards on tables that already exist.
import { asNode, constraints, display, funcNames, relName, typeInfo } from '../ast.js';
import { isNew } from '../context.js';
import { alterCmds, type Stmt } from '../rule.js';

const SERIALS = new Set(['serial', 'bigserial', 'smallserial']);

export function tables({ kind, body, ctx, report }: Stmt): void {
  if (kind !== 'AlterTableStmt' || body.objtype !== 'OBJECT_TABLE') return;
  const table = relName(body.relation);
  // A table created in this plan is empty and unused: nothing here can hurt it.
  if (isNew(ctx, 'tables', table)) return;
  const t = display(table);
  for (const cmd of alterCmds(body)) {
    const col = String(cmd.name ?? '');
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        const def = asNode(asNode(cmd.def)?.ColumnDef) ?? {};
        const name = `${t}.${String(def.colname ?? '?')}`;
        const cons = constraints(def.constraints);
        const type = typeInfo(def.typeName);
        const serial = type !== undefined && SERIALS.has(type.name);
        const identity = cons.some((c) => c.contype === 'CONSTR_IDENTITY');
        const generated = cons.find((c) => c.contype === 'CONSTR_GENERATED');
        const dflt = cons.find((c) => c.contype === 'CONSTR_DEFAULT');
        if (serial || identity)
          report('add-column-serial', `ADD COLUMN ${name} ${serial ? type?.name : 'identity'} rewrites ${t}`);
        // PostgreSQL 18 virtual generated columns are computed on read: no rewrite.
        if (generated && generated.generated_kind !== 'v')
          report('add-column-generated-stored', `ADD COLUMN ${name} GENERATED ... STORED rewrites ${t}`);
        const volatile = dflt ? funcNames(dflt.raw_expr).filter((f) => ctx.isVolatile(f)) : [];
        if (volatile.length > 0)
          report(
            'add-column-volatile-default',
            `ADD COLUMN ${name} DEFAULT ${volatile[0]}() is volatile: rewrites ${t}`,
          );
        const notNull = cons.some((c) => c.contype === 'CONSTR_NOTNULL');
        if (notNull && !dflt && !serial && !identity && !generated)
          report(
            'add-column-not-null-no-default',
            `ADD COLUMN ${name} NOT NULL without DEFAULT fails if ${t} has rows`,
          );
        break;
      }
      case 'AT_SetNotNull':
        if (!ctx.notNullChecked.has(`${table}.${col}`))
          report('set-not-null', `SET NOT NULL on ${t}.${col} scans ${t} under ACCESS EXCLUSIVE`);
        break;
      case 'AT_DropNotNull':
        if (!ctx.created.columns.has(`${table}.${col}`))
          report('drop-not-null', `DROP NOT NULL on ${t}.${col}: readers may now see NULL`);
        break;
      case 'AT_ColumnDefault': {
        const volatile = cmd.def ? funcNames(cmd.def).filter((f) => ctx.isVolatile(f)) : [];
        if (volatile.length > 0)
          report(
            'set-default-volatile',
            `SET DEFAULT ${volatile[0]}() on ${t}.${col}: existing rows keep their old value`,
          );
        break;
      }
      case 'AT_SetLogged':
        report('set-logged', `SET LOGGED rewrites ${t} under ACCESS EXCLUSIVE`);
        break;
      case 'AT_SetUnLogged':
        report('set-unlogged', `SET UNLOGGED on ${t}: rows are lost on crash; rewrites the table`);
        break;
      case 'AT_SetTableSpace':
        report('set-tablespace', `SET TABLESPACE ${col} copies ${t} under ACCESS EXCLUSIVE`);
        break;
    }
  }
}
