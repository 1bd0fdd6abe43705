// The alert rules with Prometheus' own promtool: `check rules` (syntax,
// templates) and `test rules` (test/observability/alerts.test.yaml: every alert
// fires when it should and stays quiet when it should not). promtool comes
// from Debian's `prometheus` package (scripts/install-system-deps.sh).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, RULES_FILE } from '../chart/tools.js';

const TESTS_FILE = join(REPO_ROOT, 'test', 'observability', 'alerts.test.yaml');
const RUNBOOK = join(REPO_ROOT, 'docs', 'runbook.md');

function promtool(args: string[]) {
  const r = spawnSync('promtool', args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      "promtool not found: install Debian's `prometheus` package (bash scripts/install-system-deps.sh)",
    );
  }
  return r;
}

type Rule = {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};
const groups = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] })
  .groups;
const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert);

type AlertTest = { alertname: string; eval_time: string; exp_alerts: unknown[] };
const promtoolTests = (
  parse(readFileSync(TESTS_FILE, 'utf8')) as { tests: { name: string; alert_rule_test?: AlertTest[] }[] }
).tests;

describe('alert rules', () => {
  it('pass `promtool check rules`', () => {
    const r = promtool(['check', 'rules', RULES_FILE]);
    expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({
      status: 0,
      out: expect.stringContaining('SUCCESS'),
    });
  });

  it('pass `promtool test rules` (test/observability/alerts.test.yaml)', () => {
    const r = promtool(['test', 'rules', TESTS_FILE]);
    expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({
      status: 0,
      out: expect.stringContaining('SUCCESS'),
    });
  });

  it('cover the four required alerts', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'DatabaseMigrationFailed',
        'DatabaseMigrationStuck',
        'DatabaseMigrationRestoreLeftWorkloadsDown',
        'DatabaseMigrationOperatorDown',
      ]),
    );
  });

  it.each(alerts.map((a) => [a.alert!, a] as const))(
    '%s has a firing test, a quiet test, a severity and a runbook entry',
    (name, rule) => {
      const cases = promtoolTests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === name);
      expect(cases.some((c) => c.exp_alerts.length > 0)).toBe(true);
      expect(cases.some((c) => c.exp_alerts.length === 0)).toBe(true);
      expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.description).toBeTruthy();
      const anchor = name.toLowerCase();
      expect(rule.annotations?.runbook_url).toMatch(new RegExp(`docs/runbook\\.md#${anchor}$`));
      // GitHub's anchor of a "## DatabaseMigrationFailed" heading is its lowercased text.
      expect(readFileSync(RUNBOOK, 'utf8')).toMatch(new RegExp(`^## ${name}\\s*$`, 'm'));
    },
  );
});
