// What one reconcile tells Prometheus: the phase, steps and runs that finished,
// pending migrations, findings and the backup, on the resource's series.
import type { DatabaseMigrationStatus } from '../crds/database-migration.js';
import type { OperatorMetrics, ResourceLabels } from './metrics.js';
import { isActive } from './phases.js';
import type { ReconcileOutput } from './reconciler.js';

export function recordReconcile(
  m: OperatorMetrics,
  labels: ResourceLabels,
  out: ReconcileOutput,
  status: DatabaseMigrationStatus,
  now: Date,
): void {
  if (status.phase) m.setPhase(labels, status.phase);
  for (const s of out.stepsFinished) m.stepFinished(labels, s.step, s.ok, s.seconds);
  if (out.pendingMigrations !== undefined) m.setPendingMigrations(labels, out.pendingMigrations);
  m.setRunStarted(
    labels,
    isActive(status.phase) && status.startedAt ? Date.parse(status.startedAt) / 1000 : undefined,
  );
  const eta = Date.parse(status.expectedMigratedBy ?? '');
  m.setMigrateExpectedEnd(
    labels,
    status.phase === 'Migrating' && Number.isFinite(eta) ? eta / 1000 : undefined,
  );
  m.setWorkloadsScaledDown(labels, status.scaledDown?.length ?? 0);
  if (out.runFinished) {
    const started = Date.parse(status.startedAt ?? '');
    m.runFinished(
      labels,
      out.runFinished,
      Number.isFinite(started) ? (now.getTime() - started) / 1000 : undefined,
    );
    if (out.runFinished === 'succeeded') {
      m.setLastSuccess(labels, now.getTime() / 1000);
      if (status.appliedCount) m.migrationsApplied(labels, status.appliedCount);
    }
    if (status.plan) {
      const bySeverity: Partial<Record<'info' | 'warning' | 'error', number>> = {};
      for (const f of status.plan.findings) bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
      m.setFindings(labels, bySeverity);
    }
  }
  if (status.backup && out.stepsFinished.some((s) => s.step === 'backup' && s.ok)) {
    m.setBackup(
      labels,
      status.backup.sizeBytes,
      Date.parse(status.backup.completedAt ?? '') / 1000 || now.getTime() / 1000,
    );
  }
}
