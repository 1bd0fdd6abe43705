// `-- dbmigrate:ignore rule-a, rule-b` (or the /* */ form) anywhere in a
// migration's SQL silences those rules for that migration only.
const DIRECTIVE = /dbmigrate:ignore\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)/gi;

export function ignoredRules(sqls: string[]): Set<string> {
  const out = new Set<string>();
  for (const sql of sqls)
    for (const m of sql.matchAll(DIRECTIVE))
      for (const id of (m[1] ?? '').split(',')) out.add(id.trim().toLowerCase());
  return out;
}
