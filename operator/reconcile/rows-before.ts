// Rows of the steps before the database changes: the check and the backup.
// Whatever fails here leaves the database untouched.
import { blockingCategories } from '../../crds/database-migration.js';
import type { FindingCategory } from '../../crds/job-result.js';
import { planConfigMapName } from '../plan-configmap.js';
import { QUEUED_RECHECK_MS } from './context.js';
import type { Intent } from './intents.js';
import { failureOf, finishIntent, type Row } from './row.js';

export const planChecked: Row = {
  name: 'planChecked',
  does: 'record the database identity (another run on it: wait); the plan; blocked findings wait for approval, nothing pending ends, else back up (or migrate)',
  next: ['Checking', 'Blocked', 'Succeeded', 'BackingUp', 'Migrating'],
  decide(ctx, { result }) {
    const { spec } = ctx;
    // One run at a time per database by its identity, not by spelling: first the identity
    // the check read is recorded (the edge claims it), then the run goes on only if no
    // other run holds that database.
    const id = result?.database;
    if (id && ctx.status.databaseIdentity?.key !== id.key)
      return [
        { kind: 'record', status: { databaseIdentity: { key: id.key, server: id.server } } },
        { kind: 'requeue', afterMs: 100 },
      ];
    if (ctx.input.databaseHolder) return waitForDatabase(ctx, ctx.input.databaseHolder);
    const plan = result?.plan ?? { pending: [], hash: '', findings: [], notCaptured: [] };
    const blockOn = new Set<FindingCategory>(blockingCategories(spec));
    const blocking = plan.findings.filter((f) => blockOn.has(f.category));
    // Totals are counted over the full lists; the lists may have been shortened to fit 4 KiB.
    const blockingCount = Math.max(result?.totals?.blocking ?? 0, blocking.length);
    const pendingCount = Math.max(result?.totals?.pending ?? 0, plan.pending.length);
    const findingsCount = Math.max(result?.totals?.findings ?? 0, plan.findings.length);
    const out: Intent[] = [
      {
        kind: 'record',
        status: {
          plan: {
            pending: plan.pending.slice(0, 50),
            hash: plan.hash,
            // Blocking findings first: they are the ones a person must see.
            findings: [...blocking, ...plan.findings.filter((f) => !blockOn.has(f.category))].slice(0, 20),
            // One line per migration and rule: a rule filed under two categories is still one thing to read.
            blocking: [...new Set(blocking.map((f) => `${f.migration}: ${f.rule}`))].slice(0, 20),
            pendingCount,
            findingsCount,
            blockingCount,
            configMap: planConfigMapName(ctx.dm.metadata.name),
            ...(plan.rehearsal
              ? {
                  rehearsal: {
                    onData: plan.rehearsal.onData,
                    totalMs: plan.rehearsal.totalMs,
                    expectedDurationsMs: Object.fromEntries(
                      Object.entries(plan.rehearsal.durationsMs).slice(0, 50),
                    ),
                    ...(plan.rehearsal.note ? { note: plan.rehearsal.note } : {}),
                  },
                }
              : {}),
          },
        },
      },
      { kind: 'pendingMigrations', count: pendingCount },
    ];
    // Frozen with the run: the migrate Job refuses files other than the ones checked here.
    if (plan.checksums && ctx.status.run)
      out.push({
        kind: 'record',
        status: {
          run: {
            ...ctx.status.run,
            checkedPlan: {
              checksums: plan.checksums,
              pendingCount,
              ...(plan.checksumsDigest ? { digest: plan.checksumsDigest } : {}),
            },
          },
        },
      });
    const summary = `${pendingCount} pending migration(s), ${findingsCount} finding(s)`;
    out.push({ kind: 'condition', type: 'Checked', ok: true, reason: 'PlanChecked', message: summary });
    if (blockingCount > 0 && spec.safety.approval !== plan.hash) {
      const list = blocking
        .slice(0, 5)
        .map((f) => `${f.migration}: ${f.message} [${f.category}]`)
        .join('; ');
      const message = `Blocked by spec.safety.block: ${list}. To accept this plan set spec.safety.approval: "${plan.hash}"`;
      return [...out, finishIntent('Blocked', 'blocked', 'PlanBlocked', message, 'Warning')];
    }
    out.push({ kind: 'event', type: 'Normal', reason: 'Checked', message: summary });
    if (pendingCount === 0) {
      out.push({ kind: 'record', status: { appliedCount: 0, applied: [] } });
      out.push(
        finishIntent(
          'Succeeded',
          'succeeded',
          'UpToDate',
          'Nothing to migrate: no pending migrations',
          'Normal',
        ),
      );
      return out;
    }
    out.push(
      spec.backup.enabled
        ? { kind: 'startStep', phase: 'BackingUp', message: 'Backing up the database' }
        : { kind: 'startStep', phase: 'Migrating', message: 'Applying migrations (backup disabled)' },
    );
    return out;
  },
};

/** Checked, but another run holds the same database (reached by another spelling or Secret): wait. */
function waitForDatabase(ctx: Parameters<Row['decide']>[0], holder: string): Intent[] {
  const message = `Checked; waiting for ${holder}, whose run holds the same database (${ctx.status.databaseIdentity?.server ?? 'same identity'}), to finish (one run at a time per database)`;
  const said = ctx.status.conditions?.some((c) => c.type === 'Reconciling' && c.message === message);
  return [
    ...(said ? [] : [{ kind: 'event', type: 'Normal', reason: 'Queued', message } as const]),
    { kind: 'enter', phase: 'Checking', message },
    { kind: 'requeue', afterMs: QUEUED_RECHECK_MS },
  ];
}

export const checkFailed: Row = {
  name: 'checkFailed',
  does: 'fail the run (the database was not changed)',
  next: ['Failed'],
  decide(_ctx, seen) {
    const { lastError, text } = failureOf('Checking', seen);
    return [
      lastError,
      { kind: 'condition', type: 'Checked', ok: false, reason: 'CheckFailed', message: text },
      finishIntent('Failed', 'failed', 'CheckFailed', `${text}. The database was not changed`, 'Warning'),
    ];
  },
};

export const backupFailed: Row = {
  name: 'backupFailed',
  does: 'fail the run (the database was not changed)',
  next: ['Failed'],
  decide(_ctx, seen) {
    const { lastError, text } = failureOf('BackingUp', seen);
    return [
      lastError,
      { kind: 'condition', type: 'BackedUp', ok: false, reason: 'BackupFailed', message: text },
      finishIntent('Failed', 'failed', 'BackupFailed', `${text}. The database was not changed`, 'Warning'),
    ];
  },
};

export const backedUp: Row = {
  name: 'backedUp',
  does: 'record the backup, then migrate (or revert, for spec.rollback); an unverified backup fails the run, one too large to prove (spec.backup.proof.maxSize) goes on with a BackupUnproven warning',
  next: ['Migrating', 'RollingBack', 'Failed'],
  decide(ctx, seen) {
    const backup = seen.result?.backup;
    // Too large to restore for a proof: its table of contents was read, the run goes on, flagged.
    const tooLarge = backup?.unproven === 'tooLarge';
    if (!backup || (ctx.spec.backup.verify && !backup.verified && !tooLarge))
      return backupFailed.decide(ctx, { ...seen, message: 'the backup was not verified' });
    const message = `Backup ${backup.path}: ${backup.sizeBytes} bytes, sha256 ${backup.sha256.slice(0, 12)}, verified ${backup.verified}`;
    const unproven = `Backup ${backup.path} was not proven by a test restore: ${backup.verifyNote ?? 'the database is above spec.backup.proof.maxSize'}`;
    const wasUnproven = ctx.status.conditions?.some(
      (c) => c.type === 'BackupUnproven' && c.status === 'True',
    );
    return [
      { kind: 'record', status: { backup: { ...backup, completedAt: seen.result?.finishedAt } } },
      {
        kind: 'condition',
        type: 'BackedUp',
        ok: true,
        reason: tooLarge ? 'TooLargeToProve' : 'BackupVerified',
        message,
      },
      { kind: 'event', type: 'Normal', reason: 'BackedUp', message },
      ...(tooLarge
        ? ([
            {
              kind: 'condition',
              type: 'BackupUnproven',
              ok: true,
              reason: 'TooLargeToProve',
              message: unproven,
            },
            { kind: 'event', type: 'Warning', reason: 'BackupUnproven', message: unproven },
          ] satisfies Intent[])
        : wasUnproven
          ? ([
              { kind: 'condition', type: 'BackupUnproven', ok: false, reason: 'Proven', message },
            ] satisfies Intent[])
          : []),
      ctx.spec.rollback
        ? { kind: 'revert', message: 'Reverting as requested by spec.rollback' }
        : { kind: 'startStep', phase: 'Migrating', message: 'Applying migrations' },
    ];
  },
};
