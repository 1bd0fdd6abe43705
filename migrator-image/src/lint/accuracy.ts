// Measures the linter against labelled SQL: each entry is a migration's SQL
// with the rule ids it must (and only may) trigger. Two sets use it:
// test/fixtures/lint-corpus (our own, a regression guard only) and
// test/fixtures/lint-external (cases taken from other tools' docs and tests and
// from public TypeORM histories: the figure we claim). Shared by
// scripts/lint-accuracy.ts and the corpus unit tests.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findingCategories } from '../../../crds/job-result.js';
import { lintMigration, newLintContext, RULE_BY_ID, seedSchema, type LintOptions } from './index.js';

export interface CorpusEntry {
  sql: string;
  /** Every rule id the SQL must trigger; [] for safe SQL. */
  expect: string[];
  /** Where the example or the fact behind its label comes from. */
  source: string;
  /** SQL of tables that already exist (column types only; nothing counts as created in the plan). */
  schema?: string;
  options?: Omit<LintOptions, 'volatile'>;
  /** Earlier migrations of the same plan, linted first in the same context (their findings count too). */
  plan?: string[];
  /** Why the label is what it is, when `source` alone does not say (external set). */
  label?: string;
  file?: string;
}

export interface Score {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
}

export interface Accuracy {
  entries: number;
  overall: Score;
  byCategory: Record<string, Score>;
  /** Entries whose findings differ from their labels. */
  mismatches: Array<{ sql: string; file?: string; missing: string[]; unexpected: string[] }>;
}

export function loadCorpus(dir: string): CorpusEntry[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) =>
      (JSON.parse(readFileSync(join(dir, f), 'utf8')) as CorpusEntry[]).map((e) => ({ ...e, file: f })),
    );
}

function score(tp: number, fp: number, fn: number): Score {
  const round = (x: number) => Math.round(x * 10000) / 10000;
  return {
    tp,
    fp,
    fn,
    precision: round(tp + fp === 0 ? 1 : tp / (tp + fp)),
    recall: round(tp + fn === 0 ? 1 : tp / (tp + fn)),
  };
}

/** Rule ids the linter reports for one entry (each entry is one migration in a fresh plan). */
export async function predict(entry: CorpusEntry): Promise<Set<string>> {
  const ctx = newLintContext(undefined, entry.options ?? {});
  if (entry.schema) await seedSchema(ctx, entry.schema);
  const rules = new Set<string>();
  for (const [i, sql] of [...(entry.plan ?? []), entry.sql].entries())
    for (const f of (await lintMigration(`m${i}`, [sql], ctx)).findings) rules.add(f.rule);
  return rules;
}

export async function measure(entries: CorpusEntry[]): Promise<Accuracy> {
  const counts = new Map<string, { tp: number; fp: number; fn: number }>(
    findingCategories.map((c) => [c, { tp: 0, fp: 0, fn: 0 }]),
  );
  const total = { tp: 0, fp: 0, fn: 0 };
  const mismatches: Accuracy['mismatches'] = [];
  const bump = (rule: string, key: 'tp' | 'fp' | 'fn') => {
    total[key]++;
    const c = counts.get(RULE_BY_ID.get(rule)?.category ?? '');
    if (c) c[key]++;
  };
  for (const entry of entries) {
    const got = await predict(entry);
    const want = new Set(entry.expect);
    const missing = [...want].filter((r) => !got.has(r));
    const unexpected = [...got].filter((r) => !want.has(r));
    for (const r of want) bump(r, got.has(r) ? 'tp' : 'fn');
    for (const r of unexpected) bump(r, 'fp');
    if (missing.length || unexpected.length)
      mismatches.push({ sql: entry.sql, file: entry.file, missing, unexpected });
  }
  return {
    entries: entries.length,
    overall: score(total.tp, total.fp, total.fn),
    byCategory: Object.fromEntries([...counts].map(([c, x]) => [c, score(x.tp, x.fp, x.fn)])),
    mismatches,
  };
}
