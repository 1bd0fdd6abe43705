// Medians and interleaved comparisons: every comparison runs its sides
// alternately in one process (A B A B ...), so drift of the machine (other
// work on the two shared cores, page cache, autovacuum) lands on both sides.
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Side {
  label: string;
  samples: number[];
  median: number;
}

export interface Comparison {
  kind: 'comparison';
  name: string;
  unit: string;
  runs: number;
  sides: Side[];
  /** median of each side over the median of the first (the baseline). */
  ratios: Record<string, number>;
  note?: string;
}

export interface Figure {
  kind: 'figure';
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export type Result = Comparison | Figure;

export function figure(name: string, value: number, unit: string, note?: string): Figure {
  return { kind: 'figure', name, value: round(value), unit, ...(note ? { note } : {}) };
}

export function round(x: number): number {
  return Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000;
}

/**
 * Runs `runs` rounds; in each, every side once, the order rotating per round
 * so no side is always first. `prepare` (untimed) runs before each measurement.
 */
export async function interleave(
  name: string,
  unit: string,
  runs: number,
  sides: { label: string; prepare?: () => Promise<void> | void; measure: () => Promise<number> | number }[],
  note?: string,
): Promise<Comparison> {
  const samples = sides.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < sides.length; k++) {
      const i = (k + r) % sides.length;
      const side = sides[i]!;
      await side.prepare?.();
      samples[i]!.push(round(await side.measure()));
    }
  }
  return comparison(
    name,
    unit,
    sides.map((s, i) => ({ label: s.label, samples: samples[i]! })),
    note,
  );
}

export function comparison(
  name: string,
  unit: string,
  sides: { label: string; samples: number[] }[],
  note?: string,
): Comparison {
  const withMedian = sides.map((s) => ({ ...s, median: round(median(s.samples)) }));
  const base = withMedian[0]!.median;
  const ratios: Record<string, number> = {};
  for (const s of withMedian.slice(1))
    ratios[`${s.label} / ${withMedian[0]!.label}`] = round(s.median / base);
  return {
    kind: 'comparison',
    name,
    unit,
    runs: Math.min(...sides.map((s) => s.samples.length)),
    sides: withMedian,
    ratios,
    ...(note ? { note } : {}),
  };
}
