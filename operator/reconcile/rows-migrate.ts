// Rows of the migrate step, and the choice of the way back after it failed.
import { PROGRESS_POLL_MS, type Ctx } from './context.js';
import type { Intent } from './intents.js';
import { failureOf, finishIntent, type Row } from './row.js';

export const migrateRunning: Row = {
  name: 'migrateRunning',
  does: 'poll the live progress (migration n of N) while the Job runs',
  next: ['Migrating'],
  decide(ctx) {
    // Polled while it runs: the log holds the progress, and a log line is no watch event.
    const out: Intent[] = [{ kind: 'requeue', afterMs: PROGRESS_POLL_MS }];
    if (ctx.input.migrateProgress) out.push({ kind: 'progress', progress: ctx.input.migrateProgress });
    return out;
  },
};

export const migrationsApplied: Row = {
  name: 'migrationsApplied',
  does: 'record what was applied and verified; the run succeeds',
  next: ['Succeeded'],
  decide(_ctx, { result }) {
    const applied = (result?.migrations ?? []).filter((m) => m.outcome !== 'failed');
    const message = `Applied ${applied.length} migration(s): ${applied
      .map((m) => `${m.name} (${m.durationMs} ms)`)
      .slice(0, 10)
      .join(', ')}`;
    return [
      {
        kind: 'record',
        status: {
          applied: applied.slice(0, 50).map((m) => ({ name: m.name, durationMs: m.durationMs })),
          appliedCount: Math.max(result?.totals?.applied ?? 0, applied.length),
        },
      },
      { kind: 'progress', progress: { applied: applied.length, total: applied.length } },
      { kind: 'pendingMigrations', count: result?.verify?.pending.length ?? 0 },
      { kind: 'condition', type: 'MigrationsApplied', ok: true, reason: 'Applied', message },
      {
        kind: 'condition',
        type: 'Verified',
        ok: true,
        reason: 'Verified',
        message: 'No pending migrations; the migrations table matches the files',
      },
      { kind: 'event', type: 'Normal', reason: 'MigrationsApplied', message },
      finishIntent('Succeeded', 'succeeded', 'Succeeded', message, 'Normal'),
    ];
  },
};

export const migrateFailed: Row = {
  name: 'migrateFailed',
  does: 'record how far it got, then the smallest exact way back (see wayBack)',
  next: ['RollingBack', 'Restoring', 'RolledBack', 'Failed'],
  decide(ctx, seen) {
    const { lastError, text } = failureOf('Migrating', seen);
    const err = seen.result?.error;
    const applied = (seen.result?.migrations ?? []).filter((m) => m.outcome === 'applied');
    // In `none` mode the failed migration's statements before the error stay committed.
    const partial = ctx.spec.migrations.transactionMode === 'none' && Boolean(err?.migration);
    const count = Math.max(seen.result?.totals?.applied ?? 0, applied.length);
    const total = Math.max(
      ctx.status.progress?.total ?? ctx.status.plan?.pendingCount ?? 0,
      count + (err?.migration ? 1 : 0),
    );
    return [
      lastError,
      {
        kind: 'progress',
        progress: { applied: count, total, ...(err?.migration ? { current: err.migration } : {}) },
        failed: true,
      },
      ...wayBack(ctx, applied, partial, text, count),
    ];
  },
};

/**
 * The way back after a failed migrate is the smallest that is exact: nothing
 * when the failure left no change (restoring would throw away every write since
 * the backup); revert what this run applied (its history rows); restore otherwise.
 */
export function wayBack(
  ctx: Readonly<Ctx>,
  applied: readonly { name: string; durationMs: number }[],
  partial: boolean,
  text: string,
  /** How many this run applied (the result's total: its list may be cut to fit 4 KiB). */
  appliedCount = applied.length,
): Intent[] {
  const { status, spec } = ctx;
  const out: Intent[] = [
    {
      kind: 'record',
      status: {
        applied: applied.map((m) => ({ name: m.name, durationMs: m.durationMs })),
        appliedCount,
      },
    },
    { kind: 'condition', type: 'MigrationsApplied', ok: false, reason: 'MigrationFailed', message: text },
    { kind: 'event', type: 'Warning', reason: 'MigrationFailed', message: text },
  ];
  const changed = appliedCount > 0 || partial;
  if (spec.onFailure === 'revert' && !spec.rollback) {
    if (appliedCount === 0) {
      const why = partial
        ? 'No migration of this run stayed applied, but the failed one ran without a transaction and may have left changes'
        : 'No migration of this run stayed applied';
      out.push({
        kind: 'condition',
        type: 'RolledBack',
        ok: !partial,
        reason: 'NothingToRevert',
        message: why,
      });
      out.push(
        partial
          ? finishIntent('Failed', 'failed', 'PartialMigration', `${text}. ${why}: needs a human`, 'Warning')
          : finishIntent(
              'RolledBack',
              'rolled_back',
              'MigrationFailedRolledBack',
              `${text}. ${why}`,
              'Warning',
            ),
      );
      return out;
    }
    // Newest first: the order a revert must undo them in. The revert Job reads which
    // ones from the database (this run's history rows), never from this list, which a
    // result cut to 4 KiB may hold only the newest of.
    const names = applied.map((m) => m.name).reverse();
    out.push({
      kind: 'revert',
      message: `Reverting ${appliedCount} migration(s) applied by this run`,
      names,
      byRun: { count: appliedCount },
    });
    return out;
  }
  if (spec.onFailure === 'restore' && status.backup?.path) {
    if (!changed) {
      const why =
        'The failed migration rolled itself back and no migration of this run stayed applied: the database is as it was, so the backup was not restored (that would discard every write since it was taken)';
      out.push({ kind: 'condition', type: 'Restored', ok: false, reason: 'RestoreNotNeeded', message: why });
      out.push(finishIntent('Failed', 'failed', 'MigrationFailed', `${text}. ${why}`, 'Warning', false));
      return out;
    }
    out.push({ kind: 'restore', message: 'Restoring the backup (emergency rollback)' });
    return out;
  }
  out.push(finishIntent('Failed', 'failed', 'MigrationFailed', text, 'Warning', false));
  return out;
}
