import { comparison, figure } from './stats.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readmeWithTargets, targets, targetsMarkdown, targetsTable } from './targets.js';
import type { PartReport } from './report.js';

const part = (name: string, results: PartReport['results'], ok = true): PartReport => ({
  part: name,
  ok,
  seconds: 1,
  results,
});

describe('bench targets (issue 20 rows)', () => {
  const cluster = part('cluster', [
    comparison('one run on the real node: creation to done (example app)', 'ms', [
      { label: 'bare Job (the same migrate container), to Complete', samples: [1000, 1000, 1000] },
      { label: 'DatabaseMigration, backup off, to Succeeded', samples: [1200, 1300, 1250] },
      {
        label: 'DatabaseMigration, full (check, backup, migrate), to Succeeded',
        samples: [2000, 2100, 1900],
      },
    ]),
    comparison('creation to first Pod (seen by a watch)', 'ms', [
      { label: 'bare Job', samples: [500] },
      { label: 'DatabaseMigration, backup off', samples: [560] },
      { label: 'DatabaseMigration, full', samples: [700] },
    ]),
  ]);

  it('computes each ratio from the sides it names and says whether the target is met', () => {
    const rows = targets([cluster]);
    const byRow = (s: string) => rows.find((r) => r.row.startsWith(s))!;
    expect(byRow('full run').value).toBe(2);
    expect(byRow('full run').met).toBe(false);
    expect(byRow('run without backup').value).toBe(1.25);
    expect(byRow('run without backup').met).toBe(true);
    // The worst of the operator's sides against the bare Job: 700 - 500.
    expect(byRow('resource created').value).toBe(200);
    expect(byRow('resource created').met).toBe(false);
  });

  it('reports a row whose part did not run, or failed, as not measured (never met)', () => {
    const rows = targets([part('images', [figure('operator image', 120, 'MB')], false)]);
    for (const r of rows) {
      expect(r.met).toBeNull();
      expect(r.measured).toMatch(/not measured/);
    }
    expect(targetsTable(rows)).toContain('n/a');
  });

  it('reads figures and a scale comparison’s "this build" side against strict bounds', () => {
    const rows = targets([
      part('images', [figure('operator image', 150, 'MB'), figure('migrator image', 340, 'MB')]),
      part('scale', [
        comparison('operator resident memory after sync (VmRSS)', 'MiB', [
          { label: 'before the fix', samples: [600] },
          { label: 'this build', samples: [150] },
        ]),
        figure('LIST requests while idle (30 s)', 0, 'requests'),
      ]),
    ]);
    const byRow = (s: string) => rows.find((r) => r.row.startsWith(s))!;
    expect(byRow('operator image').met).toBe(false);
    expect(byRow('migrator image').met).toBe(true);
    expect(byRow('operator at scale: resident').value).toBe(150);
    expect(byRow('operator at scale: resident').met).toBe(true);
    expect(byRow('operator at scale: LIST').met).toBe(true);
    expect(byRow('operator at scale: start to settled').met).toBeNull();
  });

  it('pairs each migrator backup with the pg_dump of the same format and compression and reports the worst', () => {
    const rows = targets([
      part('backup', [
        comparison('backup, custom format (256 MiB set)', 'ms', [
          { label: 'pg_dump -Fc', samples: [1000] },
          { label: 'migrator backup custom (verify off)', samples: [1040] },
          { label: 'pg_dump -Fc -Z lz4', samples: [200] },
          { label: 'migrator backup custom lz4, the operator default (verify off)', samples: [300] },
          { label: 'migrator backup custom (verify on)', samples: [5000] },
        ]),
      ]),
    ]);
    const row = rows.find((r) => r.row.startsWith('migrator backup'))!;
    // lz4: 300 / 200, not 300 / 1000 (the gzip dump), and the proof's side is not a pair.
    expect(row.value).toBe(1.5);
    expect(row.met).toBe(false);
    expect(row.measured).toMatch(/worst of 2: custom lz4/);
  });
});

describe("the README's Performance table", () => {
  it('is the targets table of the committed bench/results/latest.json (bench/targets-md.ts --readme)', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const doc = JSON.parse(readFileSync(path.join(root, 'bench/results/latest.json'), 'utf8')) as {
      parts: PartReport[];
    };
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const table = targetsMarkdown(targets(doc.parts));
    expect(readmeWithTargets(readme, table)).toBe(readme);
  });
});
