// migrate: TypeORM's MigrationExecutor under our advisory lock, with timings,
// checksums and a history row written in the same transaction as the
// migration's own row; then the verify step.
import { MigrationExecutor, type Migration, type QueryRunner } from 'typeorm';
import {
  progressLine,
  type AppliedMigration,
  type JobResult,
  type MigrateProgress,
} from '../../../crds/job-result.js';
import type { Config } from '../config.js';
import { log } from '../log.js';
import { MigratorError } from '../result.js';
import { scrub } from '../scrub.js';
import { assertPlanUnchanged } from '../checksums.js';
import {
  ensureHistoryTable,
  executorFor,
  appliedByOf,
  openSession,
  recordHistory,
  type Session,
} from '../session.js';
import { setCurrent } from '../shutdown.js';
import { checkVerifyQueries } from '../verify-queries.js';
import { verifySession, verifyVerdict } from './verify.js';

export async function migrate(cfg: Config, res: JobResult): Promise<void> {
  // Before anything is applied: a verification query that is not one SELECT fails the step here.
  await checkVerifyQueries(cfg.VERIFY_QUERIES);
  const s = await openSession(cfg, { lock: true });
  try {
    await ensureHistoryTable(s);
    // Under the advisory lock: what is pending now is what will run.
    const pending = (await executorFor(s).getPendingMigrations()).map((m) => m.name);
    // A Job of this run that ran before (re-created after it vanished) applied these: they are
    // part of the checked plan, read from the history rows this run wrote, never from a message.
    // Only with a checked plan: a bare `migrate` does not count an earlier run's work as its own.
    const mine = cfg.EXPECTED_CHECKSUMS ? await appliedByRun(s, cfg.MIGRATION_AUTHOR) : [];
    if (cfg.EXPECTED_CHECKSUMS) {
      assertPlanUnchanged(
        {
          checksums: cfg.EXPECTED_CHECKSUMS,
          ...(cfg.EXPECTED_PENDING_COUNT !== undefined ? { pendingCount: cfg.EXPECTED_PENDING_COUNT } : {}),
          ...(cfg.EXPECTED_PLAN_DIGEST !== undefined ? { digest: cfg.EXPECTED_PLAN_DIGEST } : {}),
        },
        pending,
        s.byName,
        mine.map((m) => m.name),
      );
      log.info(
        { pending: pending.length, appliedByThisRun: mine.length },
        'the pending migrations are the checked ones',
      );
    }
    const durations = new Map<string, number>();
    let current: string | undefined;
    let started = 0;
    for (const inst of s.ds.migrations as Array<(typeof s.ds.migrations)[number] & { name?: string }>) {
      const name = inst.name ?? inst.constructor.name;
      const up = inst.up.bind(inst);
      inst.up = async (qr: QueryRunner) => {
        current = name;
        setCurrent(name);
        progress({ applied: started, total: Math.max(pending.length, started + 1), current: name });
        started++;
        log.info({ migration: name }, 'applying migration');
        if (!qr.isTransactionActive) {
          // Nothing rolls this migration back if the process dies inside it: record that it started, first.
          await recordHistory(qr, cfg, {
            name,
            checksum: s.byName.get(name)?.checksum,
            direction: 'started',
            durationMs: 0,
          });
        }
        const t0 = performance.now();
        await up(qr);
        durations.set(name, performance.now() - t0);
      };
    }
    const committed: AppliedMigration[] = [...mine];
    const pendingCommit: AppliedMigration[] = [];
    const mode = cfg.TRANSACTION_MODE;
    class TrackedExecutor extends MigrationExecutor {
      protected override async insertExecutedMigration(qr: QueryRunner, m: Migration): Promise<void> {
        await super.insertExecutedMigration(qr, m);
        const entry: AppliedMigration = {
          name: m.name,
          durationMs: Math.round(durations.get(m.name) ?? 0),
          checksum: s.byName.get(m.name)?.checksum,
          outcome: 'applied',
        };
        await recordHistory(qr, cfg, {
          name: m.name,
          checksum: entry.checksum,
          direction: 'up',
          durationMs: entry.durationMs,
        });
        // Inside a transaction nothing is durable until its COMMIT succeeds (in "all" mode the
        // final one; in "each" mode the migration's own, which a deferred constraint can fail).
        if (qr.isTransactionActive) pendingCommit.push(entry);
        else committed.push(entry);
        log.info({ migration: m.name, durationMs: entry.durationMs }, 'migration applied');
      }
    }
    // Applied means committed: staged entries count only once their COMMIT returned.
    const commit = s.qr.commitTransaction.bind(s.qr);
    s.qr.commitTransaction = async () => {
      await commit();
      committed.push(...pendingCommit.splice(0));
    };
    const ex = new TrackedExecutor(s.ds, s.qr);
    ex.transaction = mode;
    try {
      await ex.executePendingMigrations();
      res.migrations = committed;
      progress({ applied: committed.length, total: Math.max(pending.length, committed.length) });
    } catch (err) {
      const failed = current && !committed.some((c) => c.name === current) ? current : undefined;
      res.migrations = [...committed];
      if (failed)
        res.migrations.push({
          name: failed,
          durationMs: 0,
          checksum: s.byName.get(failed)?.checksum,
          outcome: 'failed',
        });
      log.error({ migration: failed, err: (err as Error).message }, 'migration failed');
      if (failed) Object.assign(err as object, { migration: failed });
      throw err;
    }
    res.verify = await verifySession(s);
    const bad = verifyVerdict(res.verify);
    if (bad) throw bad;
    if (committed.length === 0) log.info('no pending migrations');
  } finally {
    await s.close();
  }
}

/** Applied migrations whose newest history row says this run (MIGRATION_AUTHOR) applied them, oldest first. */
async function appliedByRun(s: Session, author: string): Promise<AppliedMigration[]> {
  const by = await appliedByOf(s);
  const executed = await executorFor(s).getExecutedMigrations(); // newest first
  return executed
    .filter((m) => by.get(m.name) === author)
    .reverse()
    .map((m) => ({
      name: m.name,
      durationMs: 0,
      checksum: s.byName.get(m.name)?.checksum,
      outcome: 'applied',
    }));
}

/**
 * One stdout line per migration started (and one at the end) for the operator,
 * which reads the Pod's log tail while the Job runs: the Job has no API access.
 */
function progress(p: MigrateProgress): void {
  process.stdout.write(`${scrub(progressLine(p))}\n`);
}

export { MigratorError };
