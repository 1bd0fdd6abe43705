// Small readers over libpg-query's JSON AST: the parser's node shapes are
// loose JSON, so each helper narrows one shape and tolerates absent fields.

/** One AST node: libpg-query returns plain JSON objects keyed by node type. */
export type Node = Record<string, unknown>;

export function asNode(v: unknown): Node | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : undefined;
}

export function asList(v: unknown): Node[] {
  return Array.isArray(v) ? (v.filter((x) => asNode(x)) as Node[]) : [];
}

/** The svals of a list of `{ String: { sval } }` nodes. */
export function strings(v: unknown): string[] {
  return asList(v).map((n) => String(asNode(n.String)?.sval ?? ''));
}

/** A qualified relation name: `public.t` and `t` are the same table (search_path is assumed default). */
export function qualify(schema: string | undefined, name: string): string {
  return `${schema && schema !== '' ? schema : 'public'}.${name}`;
}

/** The qualified name of a RangeVar. */
export function relName(r: unknown): string {
  const x = asNode(r) ?? {};
  return qualify(x.schemaname as string | undefined, String(x.relname ?? '?'));
}

/** The qualified name of a `List { items: String[] }` or a bare name list (last item is the object). */
export function listName(v: unknown): string {
  const n = asNode(v);
  const parts = n?.List
    ? strings(asNode(n.List)?.items)
    : n?.String
      ? [String(asNode(n.String)?.sval)]
      : strings(v);
  const name = parts[parts.length - 1] ?? '?';
  return qualify(parts.length > 1 ? parts[parts.length - 2] : undefined, name);
}

/** Drops the implicit `public.` for messages: `public.t` reads as `t`. */
export function display(qualified: string): string {
  return qualified.startsWith('public.') ? qualified.slice('public.'.length) : qualified;
}

/** A column type as written: base name (pg_catalog prefix removed), modifiers, array flag. */
export interface TypeInfo {
  name: string;
  mods: number[];
  array: boolean;
}

const ALIASES: Record<string, string> = {
  integer: 'int4',
  int: 'int4',
  bigint: 'int8',
  smallint: 'int2',
  decimal: 'numeric',
  'character varying': 'varchar',
  character: 'bpchar',
  char: 'bpchar',
  'timestamp with time zone': 'timestamptz',
  'timestamp without time zone': 'timestamp',
  serial4: 'serial',
  serial8: 'bigserial',
  serial2: 'smallserial',
  bool: 'boolean',
  'bit varying': 'varbit',
};

export function typeInfo(typeName: unknown): TypeInfo | undefined {
  const t = asNode(typeName);
  if (!t) return undefined;
  const names = strings(t.names).filter((n) => n !== 'pg_catalog');
  const raw = (names[names.length - 1] ?? '').toLowerCase();
  const mods = asList(t.typmods).map((m) => {
    const c = asNode(m.A_Const);
    // A_Const of 0 is printed as `ival: {}`.
    return Number(asNode(c?.ival)?.ival ?? 0);
  });
  return { name: ALIASES[raw] ?? raw, mods, array: Array.isArray(t.arrayBounds) };
}

export function typeText(t: TypeInfo): string {
  return `${t.name}${t.mods.length ? `(${t.mods.join(',')})` : ''}${t.array ? '[]' : ''}`;
}

/** Every function name called anywhere under `node` (last name part, lower case). */
export function funcNames(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) funcNames(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node as Node)) {
      if (k === 'FuncCall') {
        const names = strings(asNode(v)?.funcname);
        const last = names[names.length - 1];
        if (last) out.push(last.toLowerCase());
      }
      funcNames(v, out);
    }
  }
  return out;
}

/** The column a `col IS NOT NULL` check tests, if the expression is exactly that. */
export function notNullColumn(expr: unknown): string | undefined {
  const t = asNode(asNode(expr)?.NullTest);
  if (!t || t.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const fields = strings(asNode(asNode(t.arg)?.ColumnRef)?.fields);
  return fields.length === 1 ? fields[0] : undefined;
}

/** Constraints of a ColumnDef or table element list. */
export function constraints(v: unknown): Node[] {
  return asList(v)
    .map((c) => asNode(c.Constraint))
    .filter((c): c is Node => c !== undefined);
}

/**
 * True when a DefElem list (VACUUM, REINDEX options) turns `name` on:
 * `(FULL)`, `(FULL TRUE)`, `(FULL 1)`, `(FULL on)`, but not `(FULL FALSE)`.
 */
export function hasOption(v: unknown, name: string): boolean {
  return asList(v).some((d) => {
    const el = asNode(d.DefElem);
    if (el?.defname !== name) return false;
    const arg = asNode(el.arg);
    if (!arg) return true;
    const text = asNode(arg.String)?.sval ?? asNode(arg.Boolean)?.boolval ?? asNode(arg.Integer)?.ival;
    return !['false', 'off', '0', 'no', 'undefined'].includes(String(text).toLowerCase());
  });
}

/** A DML statement and the data-modifying statements of its WITH clause (`WITH d AS (DELETE ...)`). */
export function withDml(kind: string, body: Node): Array<[string, Node]> {
  const out: Array<[string, Node]> = [[kind, body]];
  for (const cte of asList(asNode(body.withClause)?.ctes)) {
    const q = asNode(asNode(cte.CommonTableExpr)?.ctequery);
    const entry = q ? Object.entries(q)[0] : undefined;
    if (entry) out.push(...withDml(entry[0], entry[1] as Node));
  }
  return out;
}
