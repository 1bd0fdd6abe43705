// Prometheus metrics of the operator.
//
// One prom-client Registry is created in main and passed in; every metric is
// registered on it only (no global registry), so tests can create as many
// independent registries as they like.
//
// Naming follows the Prometheus conventions: `dbmigration_` prefix, base units
// (seconds, bytes), `_total` for counters, `_timestamp_seconds` for Unix times.
// Label values are bounded: namespace/name/database of existing resources
// (removed by `forget` when a resource is deleted), and small fixed enums for
// result, step, phase and severity.
//
// Cardinality budget: a Prometheus pays per series, and one cluster may hold
// thousands of resources. A resource exports at most 15 series (runs_total 5,
// check_findings up to 3, 1 each for phase, pending, applied, backup size and
// time, last success, run start while a run is active), one more while a migrate step
// with a rehearsed ETA runs, 16 in the rare moments
// restoreWorkloads are held at zero (that series exists only then), and no histogram carries a resource's labels: step and whole-run
// durations are histograms by step or result only (about 17 series each, once
// per cluster, whatever the number of resources).
import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import {
  PHASES,
  QUEUE_WAIT_BUCKETS,
  RECONCILE_DURATION_BUCKETS,
  RUN_RESULTS,
  SEVERITIES,
  STEP_DURATION_BUCKETS,
  type BuildInfo,
  type OperatorMetrics,
  type ResourceLabels,
} from './metrics-catalog.js';

export * from './metrics-catalog.js';

type Labels = Record<string, string>;
interface Removable {
  remove(labels: Labels): void;
}
interface TrackedSeries {
  metric: Removable;
  labels: Labels;
}
interface ResourceSeries {
  database: string;
  series: Map<string, TrackedSeries>;
}

const RESOURCE_LABELS = ['namespace', 'name', 'database'] as const;

export function createMetrics(
  registry: Registry,
  build: BuildInfo = { version: 'unknown' },
): OperatorMetrics {
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const runs = new Counter({
    name: 'dbmigration_runs_total',
    help: 'Finished migration runs by result (succeeded, failed, rolled_back, restored, blocked).',
    labelNames: [...RESOURCE_LABELS, 'result'],
    registers,
  });
  const stepDuration = new Histogram({
    name: 'dbmigration_step_duration_seconds',
    help: 'Duration of each step of a run (check, backup, migrate, verify, revert, restore) in seconds.',
    labelNames: ['step', 'result'],
    buckets: STEP_DURATION_BUCKETS,
    registers,
  });
  const runDuration = new Histogram({
    name: 'dbmigration_run_duration_seconds',
    help: 'Duration of whole runs (start to end, all steps) by result, in seconds.',
    labelNames: ['result'],
    buckets: STEP_DURATION_BUCKETS,
    registers,
  });
  const buildInfo = new Gauge({
    name: 'dbmigration_build_info',
    help: 'Always 1: the version of the operator and of Node.js it runs on.',
    labelNames: ['version', 'nodejs_version'],
    registers,
  });
  const applied = new Counter({
    name: 'dbmigration_migrations_applied_total',
    help: 'Migrations applied to the database.',
    labelNames: [...RESOURCE_LABELS],
    registers,
  });
  const pending = new Gauge({
    name: 'dbmigration_pending_migrations',
    help: 'Migrations pending (not yet applied) as of the last check.',
    labelNames: [...RESOURCE_LABELS],
    registers,
  });
  const backupSize = new Gauge({
    name: 'dbmigration_backup_size_bytes',
    help: 'Size of the last verified backup in bytes.',
    labelNames: [...RESOURCE_LABELS],
    registers,
  });
  const backupCompleted = new Gauge({
    name: 'dbmigration_backup_last_completion_timestamp_seconds',
    help: 'Unix time the last backup completed (backup age = time() - this).',
    labelNames: [...RESOURCE_LABELS],
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'dbmigration_last_success_timestamp_seconds',
    help: 'Unix time of the last successful run.',
    labelNames: [...RESOURCE_LABELS],
    registers,
  });
  const phaseGauge = new Gauge({
    name: 'dbmigration_phase',
    help: 'Current phase of the resource: one series per phase, 1 for the current phase and 0 for the others.',
    labelNames: [...RESOURCE_LABELS, 'phase'],
    registers,
  });
  const runStarted = new Gauge({
    name: 'dbmigration_run_start_timestamp_seconds',
    help: 'Unix time the active run started; absent when no run is active.',
    labelNames: [...RESOURCE_LABELS],
    registers,
  });
  const expectedEnd = new Gauge({
    name: 'dbmigration_migrate_expected_end_timestamp_seconds',
    help: "Unix time the running migrate step should end by its rehearsal in the check's private server; absent otherwise.",
    labelNames: [...RESOURCE_LABELS],
    registers,
  });
  const scaledDown = new Gauge({
    name: 'dbmigration_restore_workloads_scaled_down',
    help: 'Workloads currently held at zero replicas by a restore.',
    labelNames: [...RESOURCE_LABELS],
    registers,
  });
  const findings = new Gauge({
    name: 'dbmigration_check_findings',
    help: 'Findings of the last pre-deployment check by severity.',
    labelNames: [...RESOURCE_LABELS, 'severity'],
    registers,
  });
  const reconciles = new Counter({
    name: 'dbmigration_reconcile_total',
    help: 'Reconciles by result (success, error).',
    labelNames: ['result'],
    registers,
  });
  const reconcileErrors = new Counter({
    name: 'dbmigration_reconcile_errors_total',
    help: 'Reconciles that returned an error.',
    registers,
  });
  const reconcileDuration = new Histogram({
    name: 'dbmigration_reconcile_duration_seconds',
    help: 'Duration of one reconcile in seconds.',
    labelNames: ['result'],
    buckets: RECONCILE_DURATION_BUCKETS,
    registers,
  });
  const queueDepth = new Gauge({
    name: 'dbmigration_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    registers,
  });
  const queueWait = new Histogram({
    name: 'dbmigration_workqueue_wait_seconds',
    help: 'Time a key waited in the work queue before being processed, in seconds.',
    buckets: QUEUE_WAIT_BUCKETS,
    registers,
  });
  const leader = new Gauge({
    name: 'dbmigration_leader',
    help: '1 if this replica holds the leader lease, 0 otherwise.',
    registers,
  });

  // Initialise label-less and small-enum series so they are exported from the start.
  buildInfo.set({ version: build.version, nodejs_version: process.versions.node }, 1);
  queueDepth.set(0);
  leader.set(0);
  reconcileErrors.inc(0);
  for (const result of ['success', 'error']) reconciles.inc({ result }, 0);

  // Every series carrying a resource's labels is tracked so forget() can remove
  // exactly those (prom-client only removes by the full label set).
  const byResource = new Map<string, ResourceSeries>();
  const resourceKey = (namespace: string, name: string) => `${namespace}/${name}`;

  const removeAll = (entry: ResourceSeries) => {
    for (const { metric, labels } of entry.series.values()) metric.remove(labels);
    entry.series.clear();
  };

  const entryFor = (l: ResourceLabels): ResourceSeries => {
    const key = resourceKey(l.namespace, l.name);
    let entry = byResource.get(key);
    if (entry && entry.database !== l.database) {
      // The resource now targets another database: drop the series of the old one.
      removeAll(entry);
      entry.database = l.database;
    }
    if (!entry) {
      entry = { database: l.database, series: new Map() };
      byResource.set(key, entry);
    }
    if (entry.series.size === 0) initCounters(entry, l);
    return entry;
  };

  // Counters of a resource start at 0 as soon as it is seen, so the first
  // failure is an increase Prometheus can see (a series born at 1 is not).
  const initCounters = (entry: ResourceSeries, l: ResourceLabels) => {
    const labels = { namespace: l.namespace, name: l.name, database: l.database };
    for (const result of RUN_RESULTS) {
      const withResult = { ...labels, result };
      entry.series.set(`runs\u0000${JSON.stringify(withResult)}`, { metric: runs, labels: withResult });
      runs.inc(withResult, 0);
    }
    entry.series.set(`applied\u0000${JSON.stringify(labels)}`, { metric: applied, labels });
    applied.inc(labels, 0);
  };

  const track = (l: ResourceLabels, metricName: string, metric: Removable, labels: Labels) => {
    const entry = entryFor(l);
    const id = `${metricName}\u0000${JSON.stringify(labels)}`;
    if (!entry.series.has(id)) entry.series.set(id, { metric, labels });
  };

  /** Removes the resource's series of `metricName` (all label values), e.g. the previous phase. */
  const untrack = (l: ResourceLabels, metricName: string) => {
    const entry = entryFor(l);
    for (const [id, s] of entry.series)
      if (id.startsWith(`${metricName}\u0000`)) {
        s.metric.remove(s.labels);
        entry.series.delete(id);
      }
  };

  const base = (l: ResourceLabels): Labels => ({
    namespace: l.namespace,
    name: l.name,
    database: l.database,
  });

  const finite = (v: number) => (Number.isFinite(v) ? v : 0);

  const setResourceGauge = (
    name: string,
    gauge: Gauge<(typeof RESOURCE_LABELS)[number]>,
    l: ResourceLabels,
    value: number,
  ) => {
    const labels = base(l);
    track(l, name, gauge, labels);
    gauge.set(labels, finite(value));
  };

  return {
    runFinished(l, result, seconds) {
      const labels = { ...base(l), result };
      track(l, 'runs', runs, labels);
      runs.inc(labels);
      if (seconds !== undefined) runDuration.observe({ result }, Math.max(0, finite(seconds)));
    },
    stepFinished(_l, step, ok, seconds) {
      stepDuration.observe({ step, result: ok ? 'success' : 'failure' }, Math.max(0, finite(seconds)));
    },
    migrationsApplied(l, count) {
      const labels = base(l);
      track(l, 'applied', applied, labels);
      applied.inc(labels, Math.max(0, finite(count)));
    },
    setPendingMigrations(l, count) {
      setResourceGauge('pending', pending, l, count);
    },
    setBackup(l, sizeBytes, completedAtSeconds) {
      setResourceGauge('backupSize', backupSize, l, sizeBytes);
      setResourceGauge('backupCompleted', backupCompleted, l, completedAtSeconds);
    },
    setLastSuccess(l, timestampSeconds) {
      setResourceGauge('lastSuccess', lastSuccess, l, timestampSeconds);
    },
    setPhase(l, phase) {
      // One series (the current phase) instead of one per phase: 11 fewer per
      // resource; `dbmigration_phase{phase="Failed"} == 1` reads the same. An
      // unknown phase exports none rather than an unbounded label value.
      untrack(l, 'phase');
      if (!(PHASES as readonly string[]).includes(phase)) return;
      const labels = { ...base(l), phase };
      track(l, 'phase', phaseGauge, labels);
      phaseGauge.set(labels, 1);
    },
    setRunStarted(l, timestampSeconds) {
      const labels = base(l);
      if (timestampSeconds === undefined) {
        entryFor(l);
        runStarted.remove(labels);
        return;
      }
      setResourceGauge('runStarted', runStarted, l, timestampSeconds);
    },
    setMigrateExpectedEnd(l, timestampSeconds) {
      if (timestampSeconds === undefined) untrack(l, 'expectedEnd');
      else setResourceGauge('expectedEnd', expectedEnd, l, timestampSeconds);
    },
    setWorkloadsScaledDown(l, count) {
      // Almost always 0: a series only while workloads are held down (alerts test > 0).
      if (finite(count) > 0) setResourceGauge('scaledDown', scaledDown, l, count);
      else untrack(l, 'scaledDown');
    },
    setFindings(l, bySeverity) {
      untrack(l, 'findings');
      for (const severity of SEVERITIES) {
        const n = finite(bySeverity[severity] ?? 0);
        if (n <= 0) continue;
        const labels = { ...base(l), severity };
        track(l, 'findings', findings, labels);
        findings.set(labels, n);
      }
    },
    reconcileDone(seconds, error) {
      const result = error ? 'error' : 'success';
      reconciles.inc({ result });
      if (error) reconcileErrors.inc();
      reconcileDuration.observe({ result }, Math.max(0, finite(seconds)));
    },
    setQueueDepth(depth) {
      queueDepth.set(Math.max(0, finite(depth)));
    },
    observeQueueWait(seconds) {
      queueWait.observe(Math.max(0, finite(seconds)));
    },
    setLeader(isLeader) {
      leader.set(isLeader ? 1 : 0);
    },
    forget(namespace, name) {
      const key = resourceKey(namespace, name);
      const entry = byResource.get(key);
      if (!entry) return;
      removeAll(entry);
      byResource.delete(key);
    },
  };
}
