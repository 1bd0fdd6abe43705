// What a migration puts back under an old name: a view or table created with
// a renamed table's old name, a column added with a renamed column's old name.
// A rename followed by such a stand-in keeps old readers working (Atlas's
// backward-compatibility analyzer reads it the same way), so it is not flagged.
import { parse } from 'libpg-query';
import { asNode, relName, type Node } from './ast.js';
import { alterCmds } from './rule.js';

type Parsed = { stmts?: Array<{ stmt?: Node }> };

/** `schema.name` of relations and `schema.table.column` of columns the migration creates. */
export async function standIns(sqls: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const sql of sqls) {
    if (sql.trim() === '') continue;
    const tree = (await parse(sql).catch(() => ({}))) as Parsed;
    for (const raw of tree.stmts ?? []) {
      const [kind, body] = (raw.stmt ? Object.entries(raw.stmt)[0] : undefined) ?? [];
      const b = asNode(body);
      if (!b) continue;
      if (kind === 'ViewStmt') out.add(relName(b.view));
      if (kind === 'CreateStmt') out.add(relName(b.relation));
      if (kind === 'AlterTableStmt')
        for (const cmd of alterCmds(b))
          if (cmd.subtype === 'AT_AddColumn')
            out.add(`${relName(b.relation)}.${String(asNode(asNode(cmd.def)?.ColumnDef)?.colname)}`);
    }
  }
  return out;
}
