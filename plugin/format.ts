// Text output in kubectl's style: aligned columns with upper-case headers, ages
// like 5m or 3d4h, and the same data as JSON or YAML for scripts.
import { stringify } from 'yaml';
import type { Output } from './args.js';

export type Cell = string | number | undefined;

/** Columns padded to the widest cell, three spaces apart, as `kubectl get` prints them. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n') + '\n';
}

function cellText(c: Cell): string {
  return c === undefined || c === '' ? '<none>' : String(c);
}

/** kubectl's short duration: 45s, 12m, 5h3m, 3d4h, 400d. */
export function age(since: string | undefined, now: Date = new Date()): string | undefined {
  if (!since) return undefined;
  const t = Date.parse(since);
  if (!Number.isFinite(t)) return undefined;
  const s = Math.max(0, Math.floor((now.getTime() - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ''}`;
  return `${d}d`;
}

/** Milliseconds as a person reads them: 850ms, 1.2s, 3m4s. */
export function duration(ms: number | undefined): string | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${s % 60}s`;
}

/** JSON or YAML of `data`; `text()` for the table form, built only when asked. */
export function render(output: Output, data: unknown, text: () => string): string {
  if (output === 'json') return JSON.stringify(data, null, 2) + '\n';
  if (output === 'yaml') return stringify(data);
  return text();
}
