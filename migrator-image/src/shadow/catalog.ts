// A schema as a set of lines (tables, columns, types, defaults, constraints,
// indexes, enums, views, functions, triggers, sequences, extensions), so that
// "the down() brought the schema back" is a set comparison with a readable diff.
import type { Rows } from './schema.js';

const USER_NS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`;

const CATALOG_SQL = `
SELECT 'schema ' || n.nspname AS line FROM pg_namespace n WHERE ${USER_NS}
UNION ALL
SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_NS}
UNION ALL
SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attidentity::text <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
       || CASE WHEN a.attgenerated::text <> '' THEN ' generated' ELSE '' END
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_NS}
UNION ALL
SELECT 'constraint ' || n.nspname || '.' || c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE ${USER_NS}
UNION ALL
SELECT 'index ' || n.nspname || '.' || i.relname || ' ' || pg_get_indexdef(i.oid)
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
 WHERE ${USER_NS}
UNION ALL
SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text
       || coalesce(' (' || (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')', '')
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype IN ('e', 'd') AND ${USER_NS}
UNION ALL
SELECT 'view ' || n.nspname || '.' || c.relname || ' ' || pg_get_viewdef(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm') AND ${USER_NS}
UNION ALL
SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(coalesce(p.prosrc, ''))
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE ${USER_NS} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'trigger ' || n.nspname || '.' || c.relname || ' ' || pg_get_triggerdef(g.oid)
  FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT g.tgisinternal AND ${USER_NS}
UNION ALL
SELECT 'extension ' || e.extname FROM pg_extension e
`;

export type Catalog = Set<string>;

/** Lines seen by earlier snapshots: a check keeps one per migration, and most lines are in all of them. */
export type LinePool = Map<string, string>;

/** The catalog as lines, in one query; with a pool, a line already seen is kept once. */
export async function snapshotCatalog(q: Rows, pool?: LinePool): Promise<Catalog> {
  const rows = await q(CATALOG_SQL);
  const out: Catalog = new Set();
  for (const r of rows) {
    const line = String(r.line);
    if (!pool) {
      out.add(line);
      continue;
    }
    let kept = pool.get(line);
    if (kept === undefined) pool.set(line, (kept = line));
    out.add(kept);
  }
  return out;
}

export interface CatalogDiff {
  /** In `after` but not in `before`. */
  added: string[];
  /** In `before` but not in `after`. */
  removed: string[];
}

export function diffCatalog(before: Catalog, after: Catalog): CatalogDiff {
  return {
    added: [...after].filter((l) => !before.has(l)).sort(),
    removed: [...before].filter((l) => !after.has(l)).sort(),
  };
}

/** "+column public.t.x integer; -index public.t_x_idx ..." bounded to `max` entries. */
export function describeDiff(d: CatalogDiff, max = 4): string {
  const all = [...d.removed.map((l) => `missing ${l}`), ...d.added.map((l) => `extra ${l}`)];
  const shown = all.slice(0, max).map((l) => (l.length > 160 ? l.slice(0, 157) + '...' : l));
  return shown.join('; ') + (all.length > max ? `; and ${all.length - max} more` : '');
}
