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

const INT_BYTES: Record<string, number> = { int2: 2, int4: 4, int8: 8 };
const BOUNDED_TEXT = new Set(['varchar', 'bpchar']);

/** Changes whose target holds fewer values than the source: the cast fails on, or cuts, some rows. */
export function isNarrowing(from: TypeInfo, to: TypeInfo): boolean {
  if (from.array !== to.array) return false;
  const [fn, tn] = [from.name, to.name];
  const [fw, tw] = [INT_BYTES[fn], INT_BYTES[tn]];
  if (fw && tw) return tw < fw;
  if (tw && (fn === 'numeric' || fn === 'float8' || fn === 'float4')) return true;
  if (fn === 'float8' && tn === 'float4') return true;
  if ((fn === 'text' || BOUNDED_TEXT.has(fn)) && BOUNDED_TEXT.has(tn) && to.mods.length > 0)
    return fn === 'text' || from.mods.length === 0 || (to.mods[0] ?? 0) < (from.mods[0] ?? 0);
  if (fn === 'numeric' && tn === 'numeric' && to.mods.length > 0)
    return (
      from.mods.length === 0 ||
      (to.mods[0] ?? 0) - (to.mods[1] ?? 0) < (from.mods[0] ?? 0) - (from.mods[1] ?? 0) ||
      (to.mods[1] ?? 0) < (from.mods[1] ?? 0)
    );
  return (fn === 'timestamptz' || fn === 'timestamp') && tn === 'date';
}

/** A USING that only casts the column itself to the target type: the types alone decide the rewrite. */
function plainUsing(expr: unknown, col: string, to: TypeInfo): boolean {
  const isCol = (n: unknown) => {
    const f = strings(asNode(asNode(n)?.ColumnRef)?.fields);
    return f.length === 1 && f[0] === col;
  };
  if (isCol(expr)) return true;
  const cast = asNode(asNode(expr)?.TypeCast);
  const t = typeInfo(cast?.typeName);
  return !!cast && isCol(cast.arg) && !!t && typeText(t) === typeText(to);
}

/** `USING NULL`: every value of the column is thrown away. */
function usingNull(expr: unknown): boolean {
  return asNode(asNode(expr)?.A_Const)?.isnull === true;
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
    const using = def.raw_default !== undefined && !plainUsing(def.raw_default, col, to);
    if ((from && isNarrowing(from, to)) || usingNull(def.raw_default))
      report(
        'lossy-type-change',
        `ALTER COLUMN ${t}.${col} TYPE ${typeText(to)}${from ? ` (from ${typeText(from)})` : ''}${usingNull(def.raw_default) ? ' USING NULL' : ''}: values that do not fit fail or are lost`,
      );
    if (from && !using && isBinaryCoercible(from, to)) continue;
    report(
      'alter-column-type',
      `ALTER COLUMN ${t}.${col} TYPE ${typeText(to)}${from ? ` (from ${typeText(from)})` : ''}${using ? ' USING ...' : ''} rewrites ${t}`,
    );
  }
}
