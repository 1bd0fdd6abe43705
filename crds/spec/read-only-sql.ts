// The operator's early look at spec.verification.queries, so a query that could
// write stalls the resource (InvalidSpec, the field named) before any run starts.
// The operator image has no SQL parser: this is a lexical check that skips
// comments, quoted strings, quoted names and dollar quotes. The migrator decides
// with PostgreSQL's own parser (migrator-image/src/verify-queries.ts) and runs the
// queries in a READ ONLY transaction; this check only refuses earlier, never
// lets through what the migrator refuses on its own.

/** The query with comments and quoted text blanked (same length, so offsets hold). */
export function blankQuoted(sql: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    let end = i + 1;
    if (c === '-' && next === '-') {
      end = sql.indexOf('\n', i);
      if (end < 0) end = n;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      end = i + 2;
      while (end < n && depth > 0) {
        if (sql.startsWith('/*', end)) depth++;
        else if (sql.startsWith('*/', end)) depth--;
        else {
          end++;
          continue;
        }
        end += 2;
      }
    } else if (c === "'" || c === '"') {
      // E'...' takes backslash escapes; a doubled quote is one quote in both.
      const backslash = c === "'" && /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? '');
      end = i + 1;
      while (end < n) {
        if (backslash && sql[end] === '\\') end += 2;
        else if (sql[end] === c && sql[end + 1] === c) end += 2;
        else if (sql[end] === c) {
          end++;
          break;
        } else end++;
      }
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag && !/\w/.test(sql[i - 1] ?? '')) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close < 0 ? n : close + tag[0].length;
      }
    }
    out += end === i + 1 ? c : ' '.repeat(Math.min(end, n) - i);
    i = Math.min(end, n);
  }
  return out;
}

const CHECKS: [RegExp, string][] = [
  [
    /\bAS\s+(NOT\s+)?(MATERIALIZED\s+)?\(\s*(INSERT|UPDATE|DELETE|MERGE)\b/i,
    'must not modify data (a WITH clause that writes)',
  ],
  [/\bINTO\b/i, 'must not create a table (SELECT ... INTO)'],
  [/\bFOR\s+(NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b/i, 'must not lock rows (FOR UPDATE / FOR SHARE)'],
];

/** Why a verification query is not one read-only SELECT, as far as a lexer tells (undefined: it may be one). */
export function readOnlySqlProblem(sql: string): string | undefined {
  const bare = blankQuoted(sql);
  const semi = bare.indexOf(';');
  if (semi >= 0 && bare.slice(semi + 1).trim() !== '')
    return 'must be exactly one statement: no ";" between statements';
  const first = /^[\s(]*([A-Za-z]+)/.exec(bare)?.[1]?.toUpperCase();
  if (!first || !['SELECT', 'WITH', 'VALUES', 'TABLE'].includes(first))
    return `must be a SELECT (or WITH ... SELECT), not ${first ?? 'empty'}`;
  for (const [re, why] of CHECKS) if (re.test(bare)) return why;
  return undefined;
}
