import { Registry } from 'prom-client';
import { METRIC_NAMES, PHASES, createMetrics } from './metrics.js';
import type { OperatorMetrics, ResourceLabels } from './metrics.js';

const a: ResourceLabels = { namespace: 'shop', name: 'orders', database: 'pg.shop:5432/orders' };
const b: ResourceLabels = { namespace: 'shop', name: 'billing', database: 'pg.shop:5432/billing' };

/** Exercise every method so every metric has at least one series. */
function exerciseAll(m: OperatorMetrics, l: ResourceLabels): void {
  m.runFinished(l, 'succeeded');
  m.runFinished(l, 'failed');
  m.stepFinished(l, 'migrate', true, 12.5);
  m.stepFinished(l, 'backup', false, 3);
  m.migrationsApplied(l, 3);
  m.setPendingMigrations(l, 2);
  m.setBackup(l, 1024, 1_700_000_000);
  m.setLastSuccess(l, 1_700_000_100);
  m.setPhase(l, 'Migrating');
  m.setRunStarted(l, 1_700_000_000);
  m.setWorkloadsScaledDown(l, 1);
  m.setFindings(l, { warning: 2 });
  m.reconcileDone(0.02, false);
  m.reconcileDone(0.5, true);
  m.setQueueDepth(4);
  m.observeQueueWait(0.3);
  m.setLeader(true);
}

/** Parse the exposition text into samples. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[lm[1]!] = lm[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(registry: Registry) {
  return samples(await registry.metrics());
}

describe('createMetrics', () => {
  let registry: Registry;
  let m: OperatorMetrics;
  beforeEach(() => {
    registry = new Registry();
    m = createMetrics(registry);
  });

  it('registers every metric on the given registry only, plus default process metrics', async () => {
    exerciseAll(m, a);
    const names = registry.getMetricsAsArray().map((x) => x.name);
    for (const n of METRIC_NAMES) expect(names).toContain(n);
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
    // a second registry is independent (no global registration, no clash)
    const other = new Registry();
    expect(() => createMetrics(other)).not.toThrow();
  });

  it('follows Prometheus naming conventions', () => {
    for (const metric of registry.getMetricsAsArray()) {
      if (!metric.name.startsWith('dbmigration_')) continue;
      expect(metric.name).toMatch(/^dbmigration_[a-z][a-z0-9_]*$/);
      const type = (metric as unknown as { type: string }).type;
      if (type === 'counter') expect(metric.name).toMatch(/_total$/);
      else expect(metric.name).not.toMatch(/_total$/);
      if (type === 'histogram') expect(metric.name).toMatch(/_seconds$/);
      expect(metric.name).not.toMatch(/_(milliseconds|ms|minutes|hours|kilobytes|megabytes)(_|$)/);
      expect(metric.help.length).toBeGreaterThan(10);
    }
  });

  it('exports one phase series, the current phase, and none for an unknown phase', async () => {
    m.setPhase(a, 'BackingUp');
    let phase = (await scrape(registry)).filter((s) => s.name === 'dbmigration_phase');
    expect(phase.map((s) => [s.labels.phase, s.value])).toEqual([['BackingUp', 1]]);
    m.setPhase(a, 'Succeeded');
    phase = (await scrape(registry)).filter((s) => s.name === 'dbmigration_phase');
    expect(phase.map((s) => [s.labels.phase, s.value])).toEqual([['Succeeded', 1]]);
    expect(phase.every((s) => s.labels.namespace === 'shop' && s.labels.database === a.database)).toBe(true);
    m.setPhase(a, 'Bogus');
    phase = (await scrape(registry)).filter((s) => s.name === 'dbmigration_phase');
    expect(phase).toEqual([]);
    expect(PHASES).toContain('Succeeded');
  });

  it('keeps a resource within its series budget, whatever it went through', async () => {
    // Everything at once: all run results, every step, findings of every severity,
    // an active run, workloads held down, then a second round of everything.
    for (let round = 0; round < 2; round++) {
      for (const r of ['succeeded', 'failed', 'rolled_back', 'restored', 'blocked'] as const)
        m.runFinished(a, r, 30);
      for (const step of ['check', 'backup', 'migrate', 'verify', 'revert', 'restore'] as const) {
        m.stepFinished(a, step, true, 1);
        m.stepFinished(a, step, false, 1);
      }
      for (const p of PHASES) m.setPhase(a, p);
      m.setFindings(a, { info: 1, warning: 1, error: 1 });
      m.setPendingMigrations(a, 1);
      m.migrationsApplied(a, 1);
      m.setBackup(a, 1, 1);
      m.setLastSuccess(a, 1);
      m.setRunStarted(a, 1);
    }
    const perResource = async () => (await scrape(registry)).filter((s) => s.labels.name === 'orders').length;
    expect(await perResource()).toBe(15);
    m.setWorkloadsScaledDown(a, 2);
    expect(await perResource()).toBe(16);
    m.setWorkloadsScaledDown(a, 0);
    m.setFindings(a, {});
    m.setRunStarted(a, undefined);
    expect(await perResource()).toBe(11);
  });

  it('exports build_info and whole-run durations without resource labels', async () => {
    const r = new Registry();
    const withVersion = createMetrics(r, { version: '1.2.3' });
    withVersion.runFinished(a, 'succeeded', 42);
    withVersion.runFinished(a, 'blocked');
    const s = await scrape(r);
    expect(s.filter((x) => x.name === 'dbmigration_build_info')).toEqual([
      {
        name: 'dbmigration_build_info',
        labels: { version: '1.2.3', nodejs_version: process.versions.node },
        value: 1,
      },
    ]);
    const runs = s.filter((x) => x.name === 'dbmigration_run_duration_seconds_count');
    expect(runs).toEqual([
      { name: 'dbmigration_run_duration_seconds_count', labels: { result: 'succeeded' }, value: 1 },
    ]);
    const steps = s.filter((x) => x.name.startsWith('dbmigration_step_duration_seconds'));
    expect(steps.every((x) => x.labels.name === undefined && x.labels.namespace === undefined)).toBe(true);
  });

  it('forget removes every series of the deleted resource and keeps the others', async () => {
    exerciseAll(m, a);
    exerciseAll(m, b);
    const before = await scrape(registry);
    expect(before.some((s) => s.labels.name === 'orders')).toBe(true);
    m.forget('shop', 'orders');
    const after = await scrape(registry);
    expect(after.filter((s) => s.labels.name === 'orders')).toEqual([]);
    expect(after.filter((s) => s.labels.name === 'billing').length).toBe(
      before.filter((s) => s.labels.name === 'billing').length,
    );
    // resource-less metrics survive
    expect(after.find((s) => s.name === 'dbmigration_leader')?.value).toBe(1);
    expect(after.find((s) => s.name === 'dbmigration_workqueue_depth')?.value).toBe(4);
    // forgetting twice or an unknown resource is harmless
    expect(() => m.forget('shop', 'orders')).not.toThrow();
    expect(() => m.forget('nope', 'nope')).not.toThrow();
  });

  it('drops the old database series when a resource changes database', async () => {
    m.setPendingMigrations(a, 1);
    m.setPendingMigrations({ ...a, database: 'pg2:5432/orders' }, 5);
    const pending = (await scrape(registry)).filter((s) => s.name === 'dbmigration_pending_migrations');
    expect(pending).toEqual([
      { name: 'dbmigration_pending_migrations', labels: { ...a, database: 'pg2:5432/orders' }, value: 5 },
    ]);
  });

  it('starts the counters of a resource at 0 when it is first seen, so a first failure is an increase', async () => {
    m.setPhase(a, 'Pending');
    const runs = (await scrape(registry)).filter((s) => s.name === 'dbmigration_runs_total');
    expect(runs.map((s) => [s.labels.result, s.value])).toEqual([
      ['succeeded', 0],
      ['failed', 0],
      ['rolled_back', 0],
      ['restored', 0],
      ['blocked', 0],
    ]);
    expect(runs.every((s) => s.labels.name === 'orders' && s.labels.database === a.database)).toBe(true);
    expect(
      (await scrape(registry)).find((s) => s.name === 'dbmigration_migrations_applied_total')?.value,
    ).toBe(0);
    m.runFinished(a, 'failed');
    const failed = (await scrape(registry)).find(
      (s) => s.name === 'dbmigration_runs_total' && s.labels.result === 'failed',
    );
    expect(failed?.value).toBe(1);
  });

  it('setRunStarted(undefined) removes the run start series', async () => {
    m.setRunStarted(a, 1_700_000_000);
    expect(
      (await scrape(registry)).filter((s) => s.name === 'dbmigration_run_start_timestamp_seconds'),
    ).toHaveLength(1);
    m.setRunStarted(a, undefined);
    expect(
      (await scrape(registry)).filter((s) => s.name === 'dbmigration_run_start_timestamp_seconds'),
    ).toHaveLength(0);
  });

  it('records runs, steps, findings, reconciles and queue figures', async () => {
    exerciseAll(m, a);
    const s = await scrape(registry);
    const one = (name: string, labels: Record<string, string> = {}) =>
      s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    expect(one('dbmigration_runs_total', { result: 'failed' })[0]?.value).toBe(1);
    expect(
      one('dbmigration_step_duration_seconds_count', { step: 'migrate', result: 'success' })[0]?.value,
    ).toBe(1);
    expect(one('dbmigration_step_duration_seconds_bucket', { step: 'migrate', le: '7200' })[0]?.value).toBe(
      1,
    );
    expect(one('dbmigration_step_duration_seconds_bucket', { step: 'migrate', le: '0.5' })[0]?.value).toBe(0);
    expect(
      one('dbmigration_step_duration_seconds_count', { step: 'backup', result: 'failure' })[0]?.value,
    ).toBe(1);
    expect(one('dbmigration_migrations_applied_total')[0]?.value).toBe(3);
    expect(one('dbmigration_backup_size_bytes')[0]?.value).toBe(1024);
    expect(one('dbmigration_check_findings').map((x) => [x.labels.severity, x.value])).toEqual([
      ['warning', 2],
    ]);
    expect(one('dbmigration_restore_workloads_scaled_down')[0]?.value).toBe(1);
    expect(one('dbmigration_reconcile_total', { result: 'error' })[0]?.value).toBe(1);
    expect(one('dbmigration_reconcile_total', { result: 'success' })[0]?.value).toBe(1);
    expect(one('dbmigration_reconcile_errors_total')[0]?.value).toBe(1);
    expect(one('dbmigration_reconcile_duration_seconds_count')).toHaveLength(2);
    expect(one('dbmigration_workqueue_wait_seconds_count')[0]?.value).toBe(1);
    m.setLeader(false);
    expect((await scrape(registry)).find((x) => x.name === 'dbmigration_leader')?.value).toBe(0);
  });

  it('exports leader, queue depth and reconcile counters before anything happens', async () => {
    const s = await scrape(registry);
    expect(s.find((x) => x.name === 'dbmigration_leader')?.value).toBe(0);
    expect(s.find((x) => x.name === 'dbmigration_workqueue_depth')?.value).toBe(0);
    expect(s.find((x) => x.name === 'dbmigration_reconcile_errors_total')?.value).toBe(0);
  });
});
