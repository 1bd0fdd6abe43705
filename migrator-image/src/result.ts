// Builds the one JSON result each command writes (crds/job-result.ts), keeps it
// under 4 KiB by shortening lists (never the verdict) and scrubs credentials.
import { writeFileSync } from 'node:fs';
import {
  RESULT_MAX_BYTES,
  type Finding,
  type FindingCategory,
  type JobResult,
  type ResultError,
  type ResultTotals,
} from '../../crds/job-result.js';
import { scrub, scrubSql } from './scrub.js';

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** A failure that already knows which migration it belongs to. */
export class MigratorError extends Error {
  constructor(
    message: string,
    readonly migration?: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function firstLine(s: string): string {
  const line = s.split(/\r?\n/).find((l) => l.trim() !== '') ?? s;
  return line.trim();
}

const FIELD_MAX = 300;

function bounded(s: string, max = FIELD_MAX): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 3) + '...' : one;
}

type ErrorShape = {
  message?: unknown;
  code?: unknown;
  migration?: unknown;
  detail?: unknown;
  hint?: unknown;
  query?: unknown;
  driverError?: { code?: unknown; detail?: unknown; hint?: unknown };
};

function str(...vs: unknown[]): string | undefined {
  for (const v of vs) if (typeof v === 'string' && v.trim() !== '') return v;
  return undefined;
}

export function toResultError(err: unknown, migration?: string): ResultError {
  const e = err as ErrorShape | undefined;
  let message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  if (err instanceof AggregateError && err.errors.length > 0) {
    message = err.errors.map((x: { message?: string }) => x?.message ?? String(x)).join('; ');
  }
  message = scrub(firstLine(message)).slice(0, 1000);
  const rawCode =
    typeof e?.code === 'string'
      ? e.code
      : typeof e?.driverError?.code === 'string'
        ? e.driverError.code
        : undefined;
  const out: ResultError = { message };
  if (rawCode && SQLSTATE.test(rawCode)) out.code = rawCode;
  const m = migration ?? (typeof e?.migration === 'string' ? e.migration : undefined);
  if (m) out.migration = m;
  // PostgreSQL's DETAIL can quote row values (a unique violation's key); scrub() drops the password.
  const detail = str(e?.detail, e?.driverError?.detail);
  if (detail) out.detail = bounded(scrub(detail));
  const hint = str(e?.hint, e?.driverError?.hint);
  if (hint) out.hint = bounded(scrub(hint));
  // TypeORM's QueryFailedError carries the statement (parameters are never reported).
  const statement = str(e?.query);
  if (statement) out.statement = bounded(scrubSql(statement));
  return out;
}

const SEVERITY_RANK: Record<Finding['severity'], number> = { error: 0, warning: 1, info: 2 };

/** Most severe first, stable within a severity: truncation then drops the least severe. */
export function bySeverity(findings: Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITY_RANK[a.f.severity] - SEVERITY_RANK[b.f.severity] || a.i - b.i)
    .map((x) => x.f);
}

/** Counts over the full lists, computed before any truncation; `blocking` only when the block list is known. */
export function totalsOf(r: JobResult, block: readonly FindingCategory[] | undefined): ResultTotals {
  const t: ResultTotals = { ...r.totals };
  if (r.plan) {
    t.pending = r.plan.pending.length;
    t.findings = r.plan.findings.length;
    const sev: Record<string, number> = {};
    const cat: Record<string, number> = {};
    for (const f of r.plan.findings) {
      sev[f.severity] = (sev[f.severity] ?? 0) + 1;
      cat[f.category] = (cat[f.category] ?? 0) + 1;
    }
    t.bySeverity = sev;
    t.byCategory = cat;
    if (block && block.length > 0) {
      const set = new Set(block);
      t.blocking = r.plan.findings.filter((f) => set.has(f.category)).length;
    }
  } else if (r.verify) {
    t.pending = r.verify.pending.length;
  }
  if (r.migrations) t.applied = r.migrations.filter((m) => m.outcome !== 'failed').length;
  return t;
}

export function usage(): NonNullable<JobResult['usage']> {
  const u = process.resourceUsage();
  return {
    userCpuMs: Math.round(u.userCPUTime / 1000),
    systemCpuMs: Math.round(u.systemCPUTime / 1000),
    maxRssKiB: u.maxRSS,
  };
}

/** A shortenable list; `fromEnd` keeps its tail (the last applied migrations and the failed one). */
type ListRef = { get: () => unknown[] | undefined; set: (v: unknown[]) => void; fromEnd?: boolean };

function lists(r: JobResult): ListRef[] {
  const refs: ListRef[] = [];
  if (r.migrations)
    refs.push({
      get: () => r.migrations,
      set: (v) => (r.migrations = v as JobResult['migrations']),
      fromEnd: true,
    });
  if (r.plan) {
    const p = r.plan;
    refs.push({ get: () => p.findings, set: (v) => (p.findings = v as typeof p.findings) });
    refs.push({ get: () => p.pending, set: (v) => (p.pending = v as string[]) });
    refs.push({ get: () => p.notCaptured, set: (v) => (p.notCaptured = v as typeof p.notCaptured) });
    if (p.ignored) refs.push({ get: () => p.ignored, set: (v) => (p.ignored = v as typeof p.ignored) });
    if (p.revertFindings)
      refs.push({
        get: () => p.revertFindings,
        set: (v) => (p.revertFindings = v as typeof p.revertFindings),
      });
    if (p.shadow) {
      const sh = p.shadow;
      refs.push({ get: () => sh.schemaErrors, set: (v) => (sh.schemaErrors = v as string[]) });
    }
    // Shortened like a list (the first names kept); the operator and migrate then check the count.
    const sums = p.checksums;
    if (sums)
      refs.push({
        get: () => Object.entries(sums),
        set: (v) => (p.checksums = Object.fromEntries(v as [string, string][])),
      });
  }
  if (r.verify) {
    const v0 = r.verify;
    refs.push({ get: () => v0.problems, set: (v) => (v0.problems = v as string[]) });
    refs.push({ get: () => v0.pending, set: (v) => (v0.pending = v as string[]) });
  }
  return refs;
}

/** Serializes within RESULT_MAX_BYTES: shortens the longest list first, marks truncated. */
export function serializeResult(result: JobResult, max = RESULT_MAX_BYTES): string {
  const r: JobResult = structuredClone(result);
  if (r.plan) r.plan.findings = bySeverity(r.plan.findings);
  const size = (x: JobResult) => Buffer.byteLength(scrub(JSON.stringify(x)), 'utf8');
  // Long strings inside lists (problems, finding messages) first get clipped.
  if (size(r) > max) {
    r.truncated = true;
    const clip = (s: string) => (s.length > 300 ? s.slice(0, 297) + '...' : s);
    if (r.verify) {
      r.verify.problems = r.verify.problems.map(clip);
    }
    if (r.plan) r.plan.findings = r.plan.findings.map((f) => ({ ...f, message: clip(f.message) }));
  }
  while (size(r) > max) {
    const refs = lists(r).filter((l) => (l.get()?.length ?? 0) > 0);
    if (refs.length === 0) break;
    refs.sort((a, b) => (b.get()?.length ?? 0) - (a.get()?.length ?? 0));
    const longest = refs[0]!;
    const cur = longest.get()!;
    const keep = Math.floor(cur.length / 2);
    longest.set(longest.fromEnd ? cur.slice(cur.length - keep) : cur.slice(0, keep));
    r.truncated = true;
  }
  // Then the error's optional context (the message, code and migration stay).
  if (size(r) > max && r.error) {
    delete r.error.statement;
    delete r.error.detail;
    delete r.error.hint;
  }
  if (size(r) > max) {
    // Last resort: keep only the verdict.
    const minimal: JobResult = {
      step: r.step,
      ok: r.ok,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      truncated: true,
    };
    if (r.totals) minimal.totals = r.totals;
    if (r.database) minimal.database = r.database;
    if (r.error) minimal.error = { ...r.error, message: r.error.message.slice(0, 500) };
    return scrub(JSON.stringify(minimal));
  }
  return scrub(JSON.stringify(r));
}

export function writeResult(path: string, result: JobResult, max = RESULT_MAX_BYTES): string {
  const text = serializeResult(result, max);
  writeFileSync(path, text);
  return text;
}
