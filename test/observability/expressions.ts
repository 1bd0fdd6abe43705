// The PromQL expressions of the dashboard and the alert rules, and the check
// each must pass against a real Prometheus: valid, every selector matching
// series that exist, every grouping label present on them.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { DASHBOARD_FILE, RULES_FILE } from '../chart/tools.js';
import type { RunningPrometheus } from './prometheus.js';
import { analyse, expandGrafanaVariables } from './promql.js';

export const JOB = 'database-migration-operator';
/** Grafana's template variables, as "All" would set them. */
export const substitute = (expr: string) =>
  expandGrafanaVariables(expr.replace(/\$__rate_interval/g, '1m').replace(/\$__range/g, '10m'))
    .replace(/\$namespace\b|\$\{namespace\}/g, '.*')
    .replace(/\$job\b|\$\{job\}/g, `.*${JOB}.*`);

type Panel = { title?: string; type: string; targets?: { expr?: string; refId: string }[] };
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Panel[] };
export const rules = (
  parse(readFileSync(RULES_FILE, 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  }
).groups.flatMap((g) => g.rules);
export const panelExprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? [])
    .filter((t) => t.expr)
    .map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr! })),
);
export const ruleExprs = rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr }));

export async function checkExpression(prom: RunningPrometheus, expr: string) {
  const e = substitute(expr);
  const problems: string[] = [];
  const r = await prom.query(e);
  if (r.status !== 'success') problems.push(`query failed: ${r.errorType}: ${r.error}`);
  const refs = analyse(e);
  const seen = new Set<string>();
  for (const sel of refs.selectors) {
    const matchers = sel.matchers.map((m) => `${m.label}${m.op}${JSON.stringify(m.value)}`);
    const text = `${sel.metric}{${matchers.join(',')}}`;
    const series = await prom.series(text);
    if (series.length === 0) problems.push(`no series match ${text}`);
    for (const s of series) Object.keys(s).forEach((k) => seen.add(k));
  }
  for (const l of refs.groupingLabels) if (!seen.has(l)) problems.push(`no series has the label ${l}`);
  return { problems, result: r.data?.result ?? [] };
}
