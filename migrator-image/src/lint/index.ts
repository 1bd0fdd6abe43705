// The SQL hazard linter: parses each migration's SQL with PostgreSQL's own
// parser (libpg-query, PostgreSQL 18) and runs every rule group over each
// statement, with a context that knows what the plan created before it.
import { parse } from 'libpg-query';
import type { Finding } from '../../../crds/job-result.js';
import type { Node } from './ast.js';
import { newLintContext, type LintContext } from './context.js';
import { standIns } from './compat.js';
import { ignoredRules } from './ignore.js';
import { RULE_BY_ID, type RuleId } from './rule-catalog.js';
import type { RuleGroup } from './rule.js';
import { constraints } from './rules/constraints.js';
import { drops } from './rules/drops.js';
import { enums } from './rules/enums.js';
import { indexes } from './rules/indexes.js';
import { locks } from './rules/locks.js';
import { renames } from './rules/renames.js';
import { tables } from './rules/tables.js';
import { transactions } from './rules/transactions.js';
import { types } from './rules/types.js';
import { seedStatement, track } from './track.js';

export { DEFAULT_VOLATILE, newLintContext, type LintContext, type LintOptions } from './context.js';
export { RULES, RULE_BY_ID, type RuleSpec } from './rule-catalog.js';

const GROUPS: RuleGroup[] = [tables, types, indexes, constraints, locks, drops, renames, enums, transactions];

/** A finding plus where it is: the 1-based line within its SQL text (for the CLI). */
export interface LintFinding extends Finding {
  line?: number;
}

export interface IgnoredRule {
  rule: string;
  /** How many findings the directive silenced. */
  count: number;
}

export interface MigrationLint {
  findings: LintFinding[];
  /** Rules silenced by a dbmigrate:ignore directive, with how many findings each hid. */
  ignored: IgnoredRule[];
}

type Parsed = { stmts?: Array<{ stmt?: Node; stmt_location?: number }> };

/** 1-based line of the first token at or after byte `offset` (skips blanks and -- comments). */
function lineAt(sql: string, offset: number): number {
  const bytes = Buffer.from(sql, 'utf8');
  let text = bytes.subarray(0, offset).toString('utf8');
  const rest = bytes.subarray(offset).toString('utf8');
  const lead = /^(?:\s|--[^\n]*\n?)*/.exec(rest)?.[0] ?? '';
  text += lead;
  return text.split('\n').length;
}

function parseError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]?.slice(0, 120) ?? 'parse error';
}

/** Lints one migration's statements; the context carries what earlier migrations of the plan created. */
export async function lintMigration(
  migration: string,
  sqls: string[],
  ctx: LintContext,
): Promise<MigrationLint> {
  const ignore = ignoredRules(sqls);
  const findings: LintFinding[] = [];
  const silenced = new Map<string, number>();
  ctx.tx = { open: !!ctx.options.implicitTransaction, reported: false };
  ctx.standIns = await standIns(sqls);
  let statement = 0;
  const emit = (rule: RuleId, message: string, line: number) => {
    if (ignore.has(rule)) {
      silenced.set(rule, (silenced.get(rule) ?? 0) + 1);
      return;
    }
    const spec = RULE_BY_ID.get(rule);
    if (!spec) throw new Error(`lint rule ${rule} is not in the catalog`);
    // One finding per category so spec.safety.block sees each; only the first carries the hint (4 KiB results).
    [spec.category, ...(spec.also ?? [])].forEach((category, i) =>
      findings.push({
        rule,
        category,
        severity: spec.severity,
        migration,
        message,
        ...(i === 0 ? { hint: spec.alternative } : {}),
        statement,
        line,
      }),
    );
  };
  for (const sql of sqls) {
    // The parser rejects an empty query; a migration with nothing to run has nothing to flag.
    if (sql.trim() === '') continue;
    let tree: Parsed;
    try {
      tree = (await parse(sql)) as Parsed;
    } catch (err) {
      // Never silence: SQL we cannot read is SQL we cannot vouch for.
      emit('unparseable-sql', `cannot parse: ${parseError(err)}`, 1);
      statement++;
      continue;
    }
    for (const raw of tree.stmts ?? []) {
      const entry = raw.stmt ? Object.entries(raw.stmt)[0] : undefined;
      if (!entry) continue;
      const [kind, body] = entry as [string, Node];
      const line = lineAt(sql, raw.stmt_location ?? 0);
      const report = (rule: RuleId, message: string) => emit(rule, message, line);
      for (const group of GROUPS) group({ kind, body, ctx, report });
      track({ kind, body, ctx });
      statement++;
    }
  }
  return { findings, ignored: [...silenced].map(([rule, count]) => ({ rule, count })) };
}

/**
 * Findings of one migration's statements (the check command's API). Silenced
 * rules are appended to `ctx.ignored` so the plan can report them.
 */
export async function lintSql(migration: string, sqls: string[], ctx: LintContext): Promise<Finding[]> {
  const out = await lintMigration(migration, sqls, ctx);
  for (const i of out.ignored) ctx.ignored.push({ migration, ...i });
  return out.findings.map(({ line: _line, ...f }) => f);
}

/**
 * Teaches the context an existing schema (CREATE TABLE / ADD COLUMN SQL) so
 * ALTER COLUMN TYPE can tell binary-coercible changes; nothing becomes "new".
 */
export async function seedSchema(ctx: LintContext, sql: string): Promise<void> {
  const tree = (await parse(sql)) as Parsed;
  // What the schema holds, tracked as if created, but in a context of its own:
  // nothing in it becomes "new" for the plan.
  const existing = newLintContext();
  for (const raw of tree.stmts ?? []) {
    const entry = raw.stmt ? Object.entries(raw.stmt)[0] : undefined;
    if (!entry) continue;
    seedStatement(ctx, entry[0], entry[1] as Node);
    track({ kind: entry[0], body: entry[1] as Node, ctx: existing });
  }
  ctx.existing = existing.created;
}
