// Builds the one JSON result each command writes (crds/job-result.ts), keeps it
// under 4 KiB by shortening lists (never the verdict) and scrubs credentials.
import { writeFileSync } from 'node:fs';
import { RESULT_MAX_BYTES, type JobResult, type ResultError } from '../../crds/job-result.js';
import { scrub } from './scrub.js';

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

export function toResultError(err: unknown, migration?: string): ResultError {
  const e = err as
    { message?: unknown; code?: unknown; migration?: unknown; driverError?: { code?: unknown } } | undefined;
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
  return out;
}

export function usage(): NonNullable<JobResult['usage']> {
  const u = process.resourceUsage();
  return {
    userCpuMs: Math.round(u.userCPUTime / 1000),
    systemCpuMs: Math.round(u.systemCPUTime / 1000),
    maxRssKiB: u.maxRSS,
  };
}

type ListRef = { get: () => unknown[] | undefined; set: (v: unknown[]) => void };

function lists(r: JobResult): ListRef[] {
  const refs: ListRef[] = [];
  if (r.migrations)
    refs.push({ get: () => r.migrations, set: (v) => (r.migrations = v as JobResult['migrations']) });
  if (r.plan) {
    const p = r.plan;
    refs.push({ get: () => p.findings, set: (v) => (p.findings = v as typeof p.findings) });
    refs.push({ get: () => p.pending, set: (v) => (p.pending = v as string[]) });
    refs.push({ get: () => p.notCaptured, set: (v) => (p.notCaptured = v as typeof p.notCaptured) });
    if (p.ignored) refs.push({ get: () => p.ignored, set: (v) => (p.ignored = v as typeof p.ignored) });
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
    longest.set(cur.slice(0, Math.floor(cur.length / 2)));
    r.truncated = true;
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
    if (r.error) minimal.error = { ...r.error, message: r.error.message.slice(0, 500) };
    return scrub(JSON.stringify(minimal));
  }
  return scrub(JSON.stringify(r));
}

export function writeResult(path: string, result: JobResult): string {
  const text = serializeResult(result);
  writeFileSync(path, text);
  return text;
}
