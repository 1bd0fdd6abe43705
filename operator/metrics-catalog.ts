// The operator's metrics: their names, label sets, buckets and the interface
// the domain records through (implemented on prom-client in metrics.ts).
import { phases } from '../crds/database-migration.js';

export interface ResourceLabels {
  namespace: string;
  name: string;
  /** 'host:port/db' */
  database: string;
}

export type RunResult = 'succeeded' | 'failed' | 'rolled_back' | 'restored' | 'blocked';
export type Step = 'check' | 'backup' | 'migrate' | 'verify' | 'revert' | 'restore';
export type Severity = 'info' | 'warning' | 'error';

export interface OperatorMetrics {
  /**
   * dbmigration_runs_total{namespace,name,database,result}, and the run's
   * duration (when known) in dbmigration_run_duration_seconds{result}
   */
  runFinished(l: ResourceLabels, result: RunResult, seconds?: number): void;
  /** dbmigration_step_duration_seconds{step,result="success|failure"} histogram (no resource labels) */
  stepFinished(l: ResourceLabels, step: Step, ok: boolean, seconds: number): void;
  /** dbmigration_migrations_applied_total */
  migrationsApplied(l: ResourceLabels, count: number): void;
  /** dbmigration_pending_migrations */
  setPendingMigrations(l: ResourceLabels, count: number): void;
  /** dbmigration_backup_size_bytes, dbmigration_backup_last_completion_timestamp_seconds */
  setBackup(l: ResourceLabels, sizeBytes: number, completedAtSeconds: number): void;
  /** dbmigration_last_success_timestamp_seconds */
  setLastSuccess(l: ResourceLabels, timestampSeconds: number): void;
  /** dbmigration_phase{phase}: one series, the current phase, value 1 (none for an unknown phase) */
  setPhase(l: ResourceLabels, phase: string): void;
  /** dbmigration_run_start_timestamp_seconds; `undefined` removes the series (no active run) */
  setRunStarted(l: ResourceLabels, timestampSeconds: number | undefined): void;
  /** dbmigration_migrate_expected_end_timestamp_seconds: while migrating, when the rehearsal says it ends */
  setMigrateExpectedEnd(l: ResourceLabels, timestampSeconds: number | undefined): void;
  /** dbmigration_restore_workloads_scaled_down: a series only while some are held down */
  setWorkloadsScaledDown(l: ResourceLabels, count: number): void;
  /** dbmigration_check_findings{severity}: a series per severity found (none for 0) */
  setFindings(l: ResourceLabels, bySeverity: Partial<Record<Severity, number>>): void;
  /** dbmigration_reconcile_total{result}, dbmigration_reconcile_errors_total, dbmigration_reconcile_duration_seconds */
  reconcileDone(seconds: number, error: boolean): void;
  /** dbmigration_workqueue_depth */
  setQueueDepth(depth: number): void;
  /** dbmigration_workqueue_wait_seconds histogram */
  observeQueueWait(seconds: number): void;
  /** dbmigration_leader (0/1) */
  setLeader(isLeader: boolean): void;
  /** Remove every series of a deleted resource. */
  forget(namespace: string, name: string): void;
}

/** One series per phase of the API, as kube-state-metrics does for Pod phases. */
export const PHASES = phases;

export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'error'];
export const RUN_RESULTS: readonly RunResult[] = [
  'succeeded',
  'failed',
  'rolled_back',
  'restored',
  'blocked',
];

/** 0.5 s .. 2 h: migrations and backups range from sub-second to hours (also whole runs). */
export const STEP_DURATION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
/** Reconciles are API round trips: milliseconds to a few seconds. */
export const RECONCILE_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Work queue wait: includes backoff, so up to minutes. */
export const QUEUE_WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

/** Every metric name registered by createMetrics (besides the default process metrics). */
export const METRIC_NAMES = [
  'dbmigration_runs_total',
  'dbmigration_step_duration_seconds',
  'dbmigration_migrations_applied_total',
  'dbmigration_pending_migrations',
  'dbmigration_backup_size_bytes',
  'dbmigration_backup_last_completion_timestamp_seconds',
  'dbmigration_last_success_timestamp_seconds',
  'dbmigration_phase',
  'dbmigration_run_start_timestamp_seconds',
  'dbmigration_restore_workloads_scaled_down',
  'dbmigration_check_findings',
  'dbmigration_reconcile_total',
  'dbmigration_reconcile_errors_total',
  'dbmigration_reconcile_duration_seconds',
  'dbmigration_workqueue_depth',
  'dbmigration_workqueue_wait_seconds',
  'dbmigration_leader',
  'dbmigration_run_duration_seconds',
  'dbmigration_build_info',
] as const;

export interface BuildInfo {
  version: string;
}
