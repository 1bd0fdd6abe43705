// Every PromQL expression of the dashboard and of the alert rules names only
// metrics and labels that the operator's createMetrics registers (checked
// against the exposition text of a registry on which every method was called),
// plus the labels Prometheus adds when it scrapes a Kubernetes target.
// The end-to-end version runs the same expressions against a real Prometheus
// scraping a real operator; this one needs neither.
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { METRIC_NAMES, PHASES, SEVERITIES, createMetrics } from '../../operator/metrics.js';
import type { ResourceLabels, RunResult, Step } from '../../operator/metrics.js';
import { DASHBOARD_FILE, RULES_FILE } from '../chart/tools.js';
import { analyse } from './promql.js';

/** Labels Prometheus attaches to every series of a scraped target (kubernetes_sd via a ServiceMonitor). */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'service', 'endpoint', 'container'];
/** Series Prometheus itself synthesises per target. */
const SYNTHETIC: Record<string, string[]> = {
  up: [],
  scrape_duration_seconds: [],
  scrape_samples_scraped: [],
};

interface Family {
  labels: Set<string>;
  values: Map<string, Set<string>>;
}

async function exposition(): Promise<Map<string, Family>> {
  const registry = new Registry();
  const m = createMetrics(registry);
  const l: ResourceLabels = { namespace: 'shop', name: 'orders', database: 'pg.shop:5432/orders' };
  const results: RunResult[] = ['succeeded', 'failed', 'rolled_back', 'restored', 'blocked'];
  const steps: Step[] = ['check', 'backup', 'migrate', 'verify', 'revert', 'restore'];
  for (const r of results) m.runFinished(l, r, 60);
  for (const s of steps) {
    m.stepFinished(l, s, true, 1);
    m.stepFinished(l, s, false, 1);
  }
  m.migrationsApplied(l, 2);
  m.setPendingMigrations(l, 1);
  m.setBackup(l, 1000, 1_700_000_000);
  m.setLastSuccess(l, 1_700_000_000);
  // One series per resource, its current phase: a resource in each phase shows every value.
  for (const p of PHASES) m.setPhase({ ...l, name: `in-${p.toLowerCase()}` }, p);
  m.setRunStarted(l, 1_700_000_000);
  m.setMigrateExpectedEnd(l, 1_700_000_600);
  m.setWorkloadsScaledDown(l, 1);
  m.setFindings(l, { info: 1, warning: 1, error: 1 });
  m.reconcileDone(0.1, false);
  m.reconcileDone(0.1, true);
  m.setQueueDepth(1);
  m.observeQueueWait(0.1);
  m.setLeader(true);

  const families = new Map<string, Family>();
  for (const line of (await registry.metrics()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!match) throw new Error(`unparsable exposition line: ${line}`);
    const f = families.get(match[1]!) ?? {
      labels: new Set<string>(),
      values: new Map<string, Set<string>>(),
    };
    for (const lm of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      f.labels.add(lm[1]!);
      const vals = f.values.get(lm[1]!) ?? new Set<string>();
      vals.add(lm[2]!);
      f.values.set(lm[1]!, vals);
    }
    families.set(match[1]!, f);
  }
  return families;
}

type Target = { expr?: string; legendFormat?: string; refId?: string };
type Panel = { title?: string; type: string; targets?: Target[]; panels?: Panel[] };
type Dashboard = {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: { query?: string } | string }[] };
};

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const rules = (
  parse(readFileSync(RULES_FILE, 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  }
).groups.flatMap((g) => g.rules);
const flatPanels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...flatPanels(p.panels ?? [])]);

interface Expression {
  where: string;
  expr: string;
  legend?: string;
}
const expressions: Expression[] = [
  ...flatPanels(dashboard.panels).flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => t.expr)
      .map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr!, legend: t.legendFormat })),
  ),
  ...rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
];
const variableQueries = dashboard.templating.list
  .filter((v) => v.type === 'query')
  .map((v) => ({ name: v.name, query: typeof v.query === 'string' ? v.query : (v.query?.query ?? '') }));

let families: Map<string, Family>;
beforeAll(async () => {
  families = await exposition();
});

const familyOf = (metric: string): Family | undefined => {
  if (metric in SYNTHETIC) return { labels: new Set(SYNTHETIC[metric]), values: new Map() };
  return families.get(metric);
};

describe('metric names in the dashboard and alert rules', () => {
  it('finds the expressions', () => {
    expect(expressions.filter((e) => e.where.startsWith('panel')).length).toBeGreaterThan(15);
    expect(expressions.filter((e) => e.where.startsWith('rule')).length).toBeGreaterThanOrEqual(4);
  });

  it.each(expressions.map((e) => [e.where, e] as const))(
    '%s names only existing metrics and labels',
    (_, e) => {
      const refs = analyse(e.expr);
      expect(refs.errors).toEqual([]);
      expect(refs.selectors.length).toBeGreaterThan(0);
      const problems: string[] = [];
      const labelsInExpr = new Set<string>(TARGET_LABELS);
      for (const sel of refs.selectors) {
        const fam = familyOf(sel.metric);
        if (!fam) {
          problems.push(`unknown metric ${sel.metric}`);
          continue;
        }
        fam.labels.forEach((l) => labelsInExpr.add(l));
        for (const m of sel.matchers) {
          if (!fam.labels.has(m.label) && !TARGET_LABELS.includes(m.label))
            problems.push(`${sel.metric} has no label ${m.label}`);
          // A literal value or alternation of literal values must be one the operator exports.
          const known = fam.values.get(m.label);
          if (known && (m.op === '=' || m.op === '=~') && /^[A-Za-z0-9_|]+$/.test(m.value)) {
            for (const v of m.value.split('|'))
              if (!known.has(v)) problems.push(`${sel.metric}{${m.label}} never has the value "${v}"`);
          }
        }
      }
      for (const l of refs.groupingLabels)
        if (!labelsInExpr.has(l)) problems.push(`grouping by unknown label ${l}`);
      for (const lm of (e.legend ?? '').matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) {
        if (!labelsInExpr.has(lm[1]!)) problems.push(`legend uses unknown label ${lm[1]}`);
      }
      expect(problems).toEqual([]);
    },
  );

  it.each(variableQueries.map((v) => [v.name, v.query] as const))(
    'variable $%s queries an existing metric and label',
    (_, q) => {
      const m = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(q);
      expect(m).not.toBeNull();
      const fam = familyOf(m![1]!);
      expect(fam).toBeDefined();
      expect(fam!.labels.has(m![2]!) || TARGET_LABELS.includes(m![2]!)).toBe(true);
    },
  );

  it('uses every metric the operator exports (nothing exported goes unwatched)', () => {
    const used = new Set(
      expressions.flatMap((e) =>
        analyse(e.expr).selectors.map((s) => s.metric.replace(/_(bucket|count|sum)$/, '')),
      ),
    );
    expect(METRIC_NAMES.filter((n) => !used.has(n))).toEqual([]);
  });

  it('knows the bounded label values it checks against', () => {
    expect([...(families.get('dbmigration_phase')?.values.get('phase') ?? [])].sort()).toEqual(
      [...PHASES].sort(),
    );
    expect([...(families.get('dbmigration_check_findings')?.values.get('severity') ?? [])].sort()).toEqual(
      [...SEVERITIES].sort(),
    );
  });
});
