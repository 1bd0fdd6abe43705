// Column type choices (on new and existing tables) and ALTER COLUMN TYPE
// changes that rewrite the table.
import {
  asList,
  asNode,
  constraints,
  display,
  relName,
  strings,
  typeInfo,
  typeText,
  type Node,
  type TypeInfo,
} from '../ast.js';
import { isNew } from '../context.js';
import { alterCmds, type Stmt } from '../rule.js';

const SMALL_KEYS = new Set(['int4', 'int2', 'serial', 'smallserial']);
const SERIALS = new Set(['serial', 'bigserial', 'smallserial']);

/** Changes PostgreSQL applies without rewriting or scanning the table (binary-coercible, wider). */
export function isBinaryCoercible(from: TypeInfo, to: TypeInfo): boolean {
  if (from.array !== to.array) return false;
  const [fn, tn] = [from.name, to.name];
  if (fn === tn && from.mods.join(',') === to.mods.join(',')) return true;
  const widerLength = () =>
    to.mods.length === 0 || (from.mods.length > 0 && (to.mods[0] ?? 0) >= (from.mods[0] ?? 0));
  if ((fn === 'varchar' && tn === 'varchar') || (fn === 'varbit' && tn === 'varbit')) return widerLength();
  if (fn === 'varchar' && tn === 'text') return true;
  if (fn === 'text' && tn === 'varchar') return to.mods.length === 0;
  if (fn === 'numeric' && tn === 'numeric')
    return (
      to.mods.length === 0 ||
      (from.mods.length > 0 && widerLength() && (to.mods[1] ?? 0) === (from.mods[1] ?? 0))
    );
  if (fn === 'cidr' && tn === 'inet') return true;
  // timestamp <-> timestamptz depends on the session time zone: treated as a rewrite.
  return false;
}

function styleRules(s: Stmt, where: string, type: TypeInfo | undefined, pk: boolean): void {
  if (!type) return;
  if (pk && SMALL_KEYS.has(type.name) && !type.array)
    s.report('prefer-bigint-pk', `primary key ${where} is ${type.name}: use bigint`);
  if (SERIALS.has(type.name)) s.report('prefer-identity', `${where} is ${type.name}: use an identity column`);
  if (type.name === 'json') s.report('prefer-jsonb', `${where} is json: use jsonb`);
  if (type.name === 'bpchar') s.report('prefer-text-over-char', `${where} is ${typeText(type)}: use text`);
  if (type.name === 'timestamp')
    s.report('prefer-timestamptz', `${where} is timestamp without time zone: use timestamptz`);
  if (type.name === 'varchar' && type.mods.length > 0)
    s.report('varchar-limit', `${where} is ${typeText(type)}: consider text with a CHECK`);
}

function columnDef(s: Stmt, table: string, def: Node, tablePk: Set<string>): void {
  const col = String(def.colname ?? '?');
  const pk = tablePk.has(col) || constraints(def.constraints).some((c) => c.contype === 'CONSTR_PRIMARY');
  styleRules(s, `${display(table)}.${col}`, typeInfo(def.typeName), pk);
}

export function types(s: Stmt): void {
  const { kind, body, ctx, report } = s;
  if (kind === 'CreateStmt') {
    const table = relName(body.relation);
    const elts = asList(body.tableElts);
    // A single-column table-level PRIMARY KEY (id) counts like an inline one.
    const pk = new Set<string>();
    for (const c of elts.map((e) => asNode(e.Constraint)).filter((c): c is Node => !!c))
      if (c.contype === 'CONSTR_PRIMARY' && asList(c.keys).length === 1) pk.add(strings(c.keys)[0] ?? '');
    for (const e of elts) {
      const def = asNode(e.ColumnDef);
      if (def) columnDef(s, table, def, pk);
    }
    return;
  }
  if (kind !== 'AlterTableStmt' || body.objtype !== 'OBJECT_TABLE') return;
  const table = relName(body.relation);
  const t = display(table);
  for (const cmd of alterCmds(body)) {
    const def = asNode(asNode(cmd.def)?.ColumnDef);
    if (!def) continue;
    if (cmd.subtype === 'AT_AddColumn') columnDef(s, table, def, new Set());
    if (cmd.subtype !== 'AT_AlterColumnType') continue;
    const col = String(cmd.name ?? '?');
    const to = typeInfo(def.typeName);
    styleRules(s, `${t}.${col}`, to, false);
    if (isNew(ctx, 'tables', table) || !to) continue;
    const from = ctx.columnTypes.get(`${table}.${col}`);
    const using = def.raw_default !== undefined;
    if (from && !using && isBinaryCoercible(from, to)) continue;
    report(
      'alter-column-type',
      `ALTER COLUMN ${t}.${col} TYPE ${typeText(to)}${from ? ` (from ${typeText(from)})` : ''}${using ? ' USING ...' : ''} rewrites ${t}`,
    );
  }
}
