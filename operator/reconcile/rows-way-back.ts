// Rows of the way back: the revert (spec.rollback or onFailure: revert) and the
// restore (onFailure: restore), and what follows each.
import { rollbackHash } from './run-start.js';
import { failureOf, finishIntent, type Row } from './row.js';

export const reverted: Row = {
  name: 'reverted',
  does: 'record what was reverted; the run ends RolledBack (Ready for a requested rollback)',
  next: ['RolledBack'],
  decide(ctx, { result }) {
    const { spec, status } = ctx;
    const reverts = result?.migrations ?? [];
    const names = reverts.map((m) => m.name);
    const message = `Reverted ${names.length} migration(s)${names.length ? `: ${names.slice(0, 10).join(', ')}` : ''}`;
    const condition = {
      kind: 'condition',
      type: 'RolledBack',
      ok: true,
      reason: 'Reverted',
      message,
    } as const;
    if (spec.rollback)
      return [
        condition,
        {
          kind: 'record',
          status: {
            applied: reverts.map((m) => ({ name: m.name, durationMs: m.durationMs })),
            appliedCount: names.length,
            rollbackDone: { hash: rollbackHash(spec.rollback), generation: ctx.run.generation },
          },
        },
        finishIntent('RolledBack', 'rolled_back', 'RolledBack', message, 'Normal'),
      ];
    const cause = status.lastError ? ` after: ${status.lastError.message}` : '';
    return [
      condition,
      finishIntent('RolledBack', 'rolled_back', 'MigrationFailedRolledBack', `${message}${cause}`, 'Warning'),
    ];
  },
};

export const revertFailed: Row = {
  name: 'revertFailed',
  does: 'fail the run, Stalled: the database may be between migrations',
  next: ['Failed'],
  decide(_ctx, seen) {
    const { lastError, text } = failureOf('RollingBack', seen);
    return [
      lastError,
      { kind: 'condition', type: 'RolledBack', ok: false, reason: 'RollbackFailed', message: text },
      finishIntent(
        'Failed',
        'failed',
        'RollbackFailed',
        `${text}. Needs a human: the database may be between migrations`,
        'Warning',
      ),
    ];
  },
};

export const restored: Row = {
  name: 'restored',
  does: 'the run ends Restored; the workloads go back to their recorded replicas',
  next: ['Restored'],
  decide(ctx) {
    const { status } = ctx;
    const message = `Restored ${status.backup?.path ?? 'the backup'} and verified row counts and the migrations table`;
    const cause = status.lastError ? ` after: ${status.lastError.message}` : '';
    return [
      { kind: 'condition', type: 'Restored', ok: true, reason: 'Restored', message },
      finishIntent('Restored', 'restored', 'MigrationFailedRestored', `${message}${cause}`, 'Warning'),
    ];
  },
};

export const restoreFailed: Row = {
  name: 'restoreFailed',
  does: 'fail the run, Stalled; the workloads stay at zero for a human',
  next: ['Failed'],
  decide(ctx, seen) {
    const { lastError, text } = failureOf('Restoring', seen);
    const down = ctx.status.scaledDown?.map((w) => `${w.kind}/${w.name}`).join(', ');
    const left = down ? `. Workloads left at zero replicas: ${down}` : '';
    return [
      lastError,
      { kind: 'condition', type: 'Restored', ok: false, reason: 'RestoreFailed', message: text },
      finishIntent('Failed', 'failed', 'RestoreFailed', `${text}${left}`, 'Warning'),
    ];
  },
};
