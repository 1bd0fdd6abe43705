// Collects the outcome of every injected fault and writes docs/reliability.md
// from it: the table is produced by the suite, never typed.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = process.cwd();
const LOG = path.join(ROOT, '.tmp', 'reliability.jsonl');
const DOC = path.join(ROOT, 'docs', 'reliability.md');

export interface ReliabilityRow {
  fault: string;
  run: string;
  injected: number;
  outcome: string;
  jobsCreatedOnce?: boolean;
  /** Rows lost in the target database; undefined where the case has no database (operator-level). */
  rowsLost?: number;
  detail?: string;
}

export function recordReliability(row: ReliabilityRow): void {
  mkdirSync(path.dirname(LOG), { recursive: true });
  appendFileSync(LOG, `${JSON.stringify(row)}\n`);
}

export function writeReliabilityDoc(): void {
  if (!existsSync(LOG)) return;
  const rows = readFileSync(LOG, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ReliabilityRow);
  if (rows.length === 0) return;
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    '# Reliability: injected faults and their outcomes',
    '',
    'Written by `npm run test:faults` (test/faults/); do not edit by hand.',
    `Last run: ${new Date().toISOString()}, ${rows.length} cases.`,
    '',
    '| fault | run | times injected | outcome | each Job created once | rows lost | detail |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${cell(r.fault)} | ${r.run} | ${r.injected} | ${r.outcome} | ${
          r.jobsCreatedOnce === undefined ? 'n/a' : r.jobsCreatedOnce ? 'yes' : '**no**'
        } | ${r.rowsLost === undefined ? 'n/a (no database at this level)' : r.rowsLost} | ${cell(r.detail ?? '')} |`,
    ),
    '',
  ];
  writeFileSync(DOC, lines.join('\n'));
}
