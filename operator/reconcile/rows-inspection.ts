// Unknown is not failed: a mutating step ended without a result we can read
// (Pod deleted or evicted, container killed). The database is asked what it
// holds (a verify Job reads the migrations and history tables) before any way
// back is chosen; these rows start that inspection and read its answer.
import type { Intent } from './intents.js';
import { wayBack } from './rows-migrate.js';
import { capitalize } from './context.js';
import { finishIntent, type Row } from './row.js';

export const inspect: Row = {
  name: 'inspect',
  does: 'start a verify Job that reads the database, and decide on its answer',
  next: [],
  decide(_ctx, seen) {
    return [{ kind: 'inspect', after: seen.step, reason: seen.message }];
  },
};

/** The inspection answered after a revert or a restore: the outcome is still a human's to judge. */
export const inspectedNeedsHuman: Row = {
  name: 'inspectedNeedsHuman',
  does: 'fail the run, Stalled, with what the inspection found',
  next: ['Failed'],
  decide(ctx, seen) {
    const { result } = seen;
    const after = ctx.status.inspection?.after ?? seen.step;
    const answered: Intent = { kind: 'record', status: { inspection: undefined } };
    const pendingNow = result?.verify?.pending;
    if (!pendingNow) return [answered, ...notInspectable(after, result?.error?.message)];
    const note = `inspected after the ${after} result was lost: ${pendingNow.length} migration(s) pending`;
    return [
      answered,
      { kind: 'record', status: { lastError: { step: after, message: note } } },
      finishIntent(
        'Failed',
        'failed',
        'OutcomeUnknown',
        `${capitalize(after)} outcome unknown; ${note}. Needs a human`,
        'Warning',
      ),
    ];
  },
};

function notInspectable(after: string, error: string | undefined): Intent[] {
  const why = error ?? 'the inspection Job wrote no result either';
  return [
    { kind: 'record', status: { lastError: { step: after, message: `outcome unknown: ${why}` } } },
    finishIntent(
      'Failed',
      'failed',
      'OutcomeUnknown',
      `The ${after} step's outcome is unknown and the database could not be inspected (${why}). Needs a human: nothing was undone`,
      'Warning',
    ),
  ];
}

/** The inspection answered after a lost migrate result: succeeded, or the way back from what is applied. */
export const migrateInspected: Row = {
  name: 'migrateInspected',
  does: 'all applied: Succeeded; else the way back from the names still pending (Stalled when the plan is cut)',
  next: ['Succeeded', 'RollingBack', 'Restoring', 'RolledBack', 'Failed'],
  decide(ctx, { result }) {
    const { status } = ctx;
    const after = 'migrate';
    const answered: Intent = { kind: 'record', status: { inspection: undefined } };
    const pendingNow = result?.verify?.pending;
    if (!pendingNow) return [answered, ...notInspectable(after, result?.error?.message)];
    const note = `inspected after the ${after} result was lost: ${pendingNow.length} migration(s) pending`;
    const planned = status.plan?.pending ?? [];
    const complete = (status.plan?.pendingCount ?? planned.length) === planned.length;
    const stillPending = new Set(pendingNow);
    const applied = planned.filter((n) => !stillPending.has(n));
    const total = status.plan?.pendingCount ?? planned.length;
    const out: Intent[] = [
      answered,
      { kind: 'progress', progress: { applied: Math.max(0, total - pendingNow.length), total } },
    ];
    if (pendingNow.length === 0 && result?.ok) {
      const message = `Every migration of the plan is applied and verified (${note}; durations unknown)`;
      return [
        ...out,
        {
          kind: 'record',
          status: {
            applied: applied.map((n) => ({ name: n, durationMs: 0 })),
            appliedCount: status.plan?.pendingCount ?? applied.length,
          },
        },
        { kind: 'condition', type: 'MigrationsApplied', ok: true, reason: 'AppliedPerInspection', message },
        { kind: 'condition', type: 'Verified', ok: true, reason: 'Verified', message },
        finishIntent('Succeeded', 'succeeded', 'Succeeded', message, 'Normal'),
      ];
    }
    const message = `the migrate Job's result was lost; ${note}`;
    out.push({ kind: 'record', status: { lastError: { step: 'migrate', message } } });
    if (!complete)
      // The status keeps only the first names of a long plan: a revert by name could not be exact.
      return [
        ...out,
        finishIntent(
          'Failed',
          'failed',
          'OutcomeUnknown',
          `Migrate outcome unknown: ${message}; the plan is longer than the names the status keeps. Needs a human`,
          'Warning',
        ),
      ];
    return [
      ...out,
      ...wayBack(
        ctx,
        applied.map((n) => ({ name: n, durationMs: 0 })),
        // In `none` mode the migration that was running may have left changes the table does not show.
        ctx.spec.migrations.transactionMode === 'none',
        `Migrate outcome unknown: ${message}`,
      ),
    ];
  },
};
