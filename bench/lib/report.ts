// The bench's output: bench/results/latest.json (figures with units, the
// machine, the versions, the date) and a plain table on stdout.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './postgres.js';
import type { Result } from './stats.js';

export interface PartReport {
  part: string;
  ok: boolean;
  seconds: number;
  results: Result[];
  /** Why a part did not run or failed: a part that cannot run is reported, not hidden. */
  error?: string;
  options?: Record<string, unknown>;
}

function safe(fn: () => string): string {
  try {
    return fn().trim();
  } catch {
    return 'unknown';
  }
}

export function machine(): Record<string, unknown> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: os.release(),
    os: safe(() => /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? ''),
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function versions(extra: Record<string, string>): Record<string, string> {
  const pkg = (name: string) =>
    safe(
      () =>
        (
          JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
            version: string;
          }
        ).version,
    );
  return {
    project: safe(
      () =>
        (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    ),
    commit: safe(() =>
      execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }),
    ),
    node: process.version,
    typeorm: pkg('typeorm'),
    '@kubernetes/client-node': pkg('@kubernetes/client-node'),
    ...extra,
  };
}

export function writeJson(file: string, doc: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
}

export function table(parts: PartReport[]): string {
  const rows: string[][] = [['part', 'measure', 'value', 'unit', 'ratio / note']];
  for (const p of parts) {
    if (!p.ok) rows.push([p.part, 'NOT RUN / FAILED', '', '', (p.error ?? '').slice(0, 100)]);
    for (const r of p.results) {
      if (r.kind === 'figure') rows.push([p.part, r.name, String(r.value), r.unit, r.note ?? '']);
      else
        r.sides.forEach((s, i) =>
          rows.push([
            i === 0 ? p.part : '',
            i === 0 ? `${r.name} [median of ${r.runs}] ${s.label}` : `  ${s.label}`,
            String(s.median),
            r.unit,
            i === 0 ? 'baseline' : `${r.ratios[`${s.label} / ${r.sides[0]!.label}`]}x`,
          ]),
        );
    }
  }
  return columns(rows, 90);
}

/** Plain text columns: each cell padded to its column's widest (capped at `max`), two spaces apart. */
export function columns(rows: readonly string[][], max = Infinity): string {
  const widths = rows[0]!.map((_, c) => Math.min(max, Math.max(...rows.map((r) => (r[c] ?? '').length))));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
