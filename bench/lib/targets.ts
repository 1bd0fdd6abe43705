// Issue 20's table, row by row: each target read from the parts of one results
// document (bench/results/latest.json), with the figure, the ratio or value,
// the target and whether it is met. A row whose part did not run says so; it
// is never counted as met.
import { columns, type PartReport } from './report.js';
import type { Comparison, Result } from './stats.js';

export interface TargetRow {
  row: string;
  /** The measured figure(s), as a reader would quote them. */
  measured: string;
  /** The value compared with the target (a ratio, or a figure in `unit`). */
  value: number | null;
  target: string;
  met: boolean | null;
  /** Which part and run date the row comes from. */
  from: string;
}

type Parts = readonly (PartReport & { run?: unknown })[];

function find(parts: Parts, part: string, name: RegExp): { r: Result; from: string } | undefined {
  const p = parts.find((x) => x.part === part && x.ok);
  const r = p?.results.find((x) => name.test(x.name));
  const opts = Object.entries(p?.options ?? {})
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
  const date = (p?.run as { date?: unknown } | undefined)?.date;
  const when = typeof date === 'string' ? date.slice(0, 10) : 'this run';
  return r && p ? { r, from: `${part} (${[when, opts].filter(Boolean).join('; ')})` } : undefined;
}

const side = (c: Comparison, label: RegExp) => c.sides.find((s) => label.test(s.label));

/** A figure's value, or a comparison's side "this build" (else its last side). */
function valueOf(r: Result): number {
  if (r.kind === 'figure') return r.value;
  return (side(r, /^this build$/) ?? r.sides[r.sides.length - 1]!).median;
}

const fmt = (x: number, unit = '') => `${Math.round(x * 100) / 100}${unit}`;

interface Spec {
  row: string;
  target: string;
  read: (parts: Parts) => Omit<TargetRow, 'row' | 'target'> | undefined;
}

/** ratio = median(side matching `label`) / median(side matching `base`) of one comparison. */
function ratio(part: string, name: RegExp, label: RegExp, base: RegExp, max: number): Spec['read'] {
  return (parts) => {
    const f = find(parts, part, name);
    if (f?.r.kind !== 'comparison') return undefined;
    const a = side(f.r, label);
    const b = side(f.r, base);
    if (!a || !b) return undefined;
    const v = a.median / b.median;
    return {
      measured: `${fmt(a.median)} ${f.r.unit} vs ${fmt(b.median)} ${f.r.unit} (median of ${f.r.runs})`,
      value: Math.round(v * 1000) / 1000,
      met: v <= max,
      from: f.from,
    };
  };
}

function below(part: string, name: RegExp, max: number, strict = true): Spec['read'] {
  return (parts) => {
    const f = find(parts, part, name);
    if (!f) return undefined;
    const v = valueOf(f.r);
    const unit = f.r.unit;
    return {
      measured: `${fmt(v)} ${unit}`,
      value: v,
      met: strict ? v < max : v <= max,
      from: f.from,
    };
  };
}

/** Format and compression a backup side names: the same options pair a migrator side with a pg_dump side. */
function options(label: string): string {
  const format = /directory|-Fd/.test(label) ? 'directory' : 'custom';
  const compression = /lz4/.test(label) ? 'lz4' : /zstd/.test(label) ? 'zstd' : 'gzip';
  return `${format} ${compression}`;
}

/** The worst migrator ÷ pg_dump ratio over every pair with the same options (proof off). */
const backupRatio: Spec['read'] = (parts) => {
  const p = parts.find((x) => x.part === 'backup' && x.ok);
  const pairs: { v: number; text: string }[] = [];
  for (const r of p?.results ?? []) {
    if (r.kind !== 'comparison') continue;
    for (const m of r.sides.filter((s) => /^migrator backup/.test(s.label) && /verify off/.test(s.label))) {
      const bare = r.sides.find((s) => /^pg_dump/.test(s.label) && options(s.label) === options(m.label));
      if (bare)
        pairs.push({
          v: m.median / bare.median,
          text: `${options(m.label)}: ${fmt(m.median)} vs ${fmt(bare.median)} ${r.unit}`,
        });
    }
  }
  if (!p || pairs.length === 0) return undefined;
  const worst = pairs.reduce((a, b) => (b.v > a.v ? b : a));
  return {
    measured: `worst of ${pairs.length}: ${worst.text} (${pairs.map((x) => fmt(x.v, '×')).join(', ')})`,
    value: Math.round(worst.v * 1000) / 1000,
    met: worst.v <= 1.05,
    from: find(parts, 'backup', /./)?.from ?? 'backup',
  };
};

export const TARGETS: Spec[] = [
  {
    row: 'full run (check, backup, migrate) ÷ bare Job',
    target: '≤ 1.5×',
    read: ratio('cluster', /creation to done/, /full/, /^bare Job/, 1.5),
  },
  {
    row: 'run without backup ÷ bare Job',
    target: '≤ 1.3×',
    read: ratio('cluster', /creation to done/, /backup off/, /^bare Job/, 1.3),
  },
  {
    row: 'resource created → first Pod, minus the bare Job’s',
    target: '≤ 100 ms',
    read: (parts) => {
      const f = find(parts, 'cluster', /first Pod/);
      if (f?.r.kind !== 'comparison') return undefined;
      const bare = side(f.r, /^bare Job/);
      const dms = f.r.sides.filter((s) => s !== bare);
      if (!bare || dms.length === 0) return undefined;
      const worst = Math.max(...dms.map((s) => s.median));
      return {
        measured: `${fmt(worst)} ms vs bare ${fmt(bare.median)} ms`,
        value: worst - bare.median,
        met: worst - bare.median <= 100,
        from: f.from,
      };
    },
  },
  {
    row: 'migrator check ÷ migrator migrate (generated plan, fresh database)',
    target: '≤ 4×',
    read: ratio('check', /check .*migrate|migrate .*check/, /check/, /migrate/, 4),
  },
  {
    row: 'migrator start-up ÷ node -e 0',
    target: '≤ 1.5×',
    read: ratio('migrate', /^start-up/, /usage, no work/, /^node -e 0$/, 1.5),
  },
  {
    row: 'migrator backup ÷ pg_dump, same options (proof off; worst format × compression)',
    target: '≤ 1.05×',
    read: backupRatio,
  },
  {
    row: 'operator at scale: resident memory after sync',
    target: '< 200 MB',
    read: below('scale', /resident memory after sync/, 200 / 1.048576),
  },
  {
    row: 'operator at scale: start to settled',
    target: '< 20 s',
    read: below('scale', /start to settled/, 20_000),
  },
  {
    row: 'operator at scale: LIST requests while idle',
    target: '0',
    read: below('scale', /LIST/, 0, false),
  },
  {
    row: 'operator image',
    target: '< 150 MB',
    read: below('images', /^operator image$/, 150),
  },
  {
    row: 'migrator image (with the private server’s binaries)',
    target: '< 350 MB',
    read: below('images', /^migrator image$/, 350),
  },
];

export function targets(parts: Parts): TargetRow[] {
  return TARGETS.map((t) => {
    const got = t.read(parts);
    return {
      row: t.row,
      target: t.target,
      ...(got ?? {
        measured: 'not measured (its part did not run or failed)',
        value: null,
        met: null,
        from: '',
      }),
    };
  });
}

export function targetsTable(rows: readonly TargetRow[]): string {
  const cells = [
    ['target row', 'measured', 'ratio / value', 'target', 'met', 'from'],
    ...rows.map((r) => [
      r.row,
      r.measured,
      r.value === null ? '' : String(r.value),
      r.target,
      r.met === null ? 'n/a' : r.met ? 'yes' : 'NO',
      r.from,
    ]),
  ];
  return columns(cells);
}

/** The rows as the README's Performance table quotes them (a test keeps the two equal). */
export function targetsMarkdown(rows: readonly TargetRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| target (issue 20) | measured | ratio / value | target | met |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${esc(r.row)} | ${esc(r.measured)} | ${r.value ?? ''} | ${esc(r.target)} | ${r.met === null ? 'not measured' : r.met ? 'yes' : 'no'} |`,
    ),
  ].join('\n');
}

const BEGIN = '<!-- targets:begin -->';
const END = '<!-- targets:end -->';

/** The README with `table` between its targets markers (which must be there). */
export function readmeWithTargets(readme: string, table: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${BEGIN} ... ${END} markers`);
  return `${readme.slice(0, a + BEGIN.length)}\n${table}\n${readme.slice(b)}`;
}
