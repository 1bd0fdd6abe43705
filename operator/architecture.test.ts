// The house rules, checked on the source tree: the API (crds/) imports neither
// the operator nor the migrator, the plumbing (operator/runtime/) imports no
// domain code, the import graph has no cycle, and no source file (tests apart)
// is over 400 lines.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const SOURCE_DIRS = ['crds', 'operator', 'migrator-image/src', 'plugin', 'bench', 'scripts', 'bin'];
const MAX_LINES = 400;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.join(dir, name);
    if (name === 'node_modules' || name === 'generated' || name === 'results') continue;
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...files(rel));
    else if (/\.(ts|js)$/.test(name) && !/\.test\.ts$/.test(name)) out.push(rel);
  }
  return out;
}

const sources = SOURCE_DIRS.flatMap(files);

/** Relative imports that exist at run time (`import type` and `export type` are erased). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const out: string[] = [];
  const re = /^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'(\.{1,2}\/[^']+)'|^import\s+'(\.{1,2}\/[^']+)'/gm;
  for (const m of text.matchAll(re)) {
    const spec = (m[1] ?? m[2])!;
    out.push(path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return out;
}

describe('architecture', () => {
  it('finds the sources it checks', () => {
    expect(sources.length).toBeGreaterThan(100);
    expect(sources).toContain('operator/reconcile/table.ts');
  });

  it('crds/ imports neither operator/ nor migrator-image/', () => {
    const bad = sources
      .filter((f) => f.startsWith('crds/'))
      .flatMap((f) => runtimeImports(f).map((to) => `${f} -> ${to}`))
      .filter((e) => /-> (operator|migrator-image)\//.test(e));
    expect(bad).toEqual([]);
  });

  it('operator/runtime/ imports nothing outside itself', () => {
    const bad = sources
      .filter((f) => f.startsWith('operator/runtime/'))
      .flatMap((f) => runtimeImports(f).map((to) => `${f} -> ${to}`))
      .filter((e) => !e.split(' -> ')[1]!.startsWith('operator/runtime/'));
    expect(bad).toEqual([]);
  });

  it('the import graph has no cycle', () => {
    const graph = new Map(sources.map((f) => [f, runtimeImports(f).filter((t) => sources.includes(t))]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, trail: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of sources) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it(`no source file is over ${MAX_LINES} lines (tests apart)`, () => {
    const long = sources
      .map((f) => ({ f, n: readFileSync(path.join(ROOT, f), 'utf8').split('\n').length - 1 }))
      .filter((x) => x.n > MAX_LINES)
      .map((x) => `${x.f}: ${x.n}`);
    expect(long).toEqual([]);
  });
});
