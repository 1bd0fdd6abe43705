// revert: undo the migrations a run applied, read from the database: every
// migration whose newest history row says REVERT_APPLIED_BY (the run's
// identity, its MIGRATION_AUTHOR) applied it; or those named in
// REVERT_MIGRATIONS (newest first); or the older forms: the last
// REVERT_STEPS migrations, or every migration applied after REVERT_TO. Done by hand rather than MigrationExecutor.undoLastMigration,
// which wraps down() in a transaction even for `transaction = false`
// migrations (typeorm issue 9981): down() + delete of the migrations row +
// history row, in one transaction unless the migration or the mode says none.
import type { QueryRunner } from 'typeorm';
import type { AppliedMigration, JobResult } from '../../../crds/job-result.js';
import { ConfigError, type Config } from '../config.js';
import { log } from '../log.js';
import { MigratorError } from '../result.js';
import {
  appliedByOf,
  ensureHistoryTable,
  executorFor,
  latestHistory,
  type HistoryDirection,
  migrationsTable,
  historyTable,
  openSession,
  recordHistory,
  type Session,
} from '../session.js';
import { setCurrent } from '../shutdown.js';

type Executed = Awaited<ReturnType<ReturnType<typeof executorFor>['getExecutedMigrations']>>;

/**
 * REVERT_MIGRATIONS (newest first): the migrations still applied must be the
 * newest executed ones, in that order; names already reverted (their newest
 * history row is a `down`) may only lead the list, so re-running a revert after
 * it (or part of it) succeeded undoes nothing more.
 */
export function targetsByName(
  names: string[],
  executed: Executed,
  history: Map<string, { direction: HistoryDirection }>,
): { targets: Executed; alreadyReverted: string[] } {
  const applied = new Set(executed.map((m) => m.name));
  const alreadyReverted: string[] = [];
  let i = 0;
  for (; i < names.length && !applied.has(names[i]!); i++) {
    const n = names[i]!;
    if (history.get(n)?.direction !== 'down')
      throw new MigratorError(`cannot revert ${n}: it is not an applied migration`, n);
    alreadyReverted.push(n);
  }
  const rest = names.slice(i);
  const targets = executed.slice(0, rest.length);
  rest.forEach((n, k) => {
    const at = targets[k];
    if (at?.name === n) return;
    if (!applied.has(n))
      throw new MigratorError(
        `cannot revert ${n}: it is not applied, while ${rest[k - 1] ?? 'a newer one in the list'} still is`,
        n,
      );
    throw new MigratorError(
      `cannot revert ${n}: the newest applied migration is ${at?.name ?? '(none)'}; revert newest first`,
      n,
    );
  });
  return { targets, alreadyReverted };
}

/**
 * REVERT_APPLIED_BY: the applied migrations this run applied, newest first,
 * decided from the database (never from a list carried in a message). They must
 * be the newest applied ones: a newer migration applied by someone else stops
 * the revert before anything is undone. A re-run after a revert finds fewer (or none).
 */
export function targetsByRun(
  author: string,
  executed: Executed,
  appliedBy: Map<string, string | null>,
): Executed {
  const mine = (m: Executed[number]): boolean => appliedBy.get(m.name) === author;
  const count = executed.filter(mine).length;
  const foreign = executed.slice(0, count).find((m) => !mine(m));
  if (foreign)
    throw new MigratorError(
      `cannot revert the migrations of ${author}: ${foreign.name}, applied by ${appliedBy.get(foreign.name) ?? 'someone else'}, is newer than some of them`,
      foreign.name,
    );
  return executed.slice(0, count);
}

/** How many migrations the run identity `author` reverted (its `down` history rows). */
async function revertedBy(s: Session, author: string): Promise<number> {
  const [row] = (await s.qr.query(
    `SELECT count(*)::int AS n FROM ${historyTable(s.cfg)} WHERE direction = 'down' AND applied_by = $1`,
    [author],
  )) as Array<{ n: number }>;
  return row?.n ?? 0;
}

export async function revert(cfg: Config, res: JobResult): Promise<void> {
  const ways = [
    cfg.REVERT_MIGRATIONS.length > 0,
    !!cfg.REVERT_STEPS,
    !!cfg.REVERT_TO,
    !!cfg.REVERT_APPLIED_BY,
  ].filter(Boolean);
  if (ways.length === 0)
    throw new ConfigError(
      'invalid environment: set REVERT_APPLIED_BY, REVERT_MIGRATIONS, REVERT_STEPS or REVERT_TO for revert',
    );
  if (ways.length > 1)
    throw new ConfigError(
      'invalid environment: set only one of REVERT_APPLIED_BY, REVERT_MIGRATIONS, REVERT_STEPS and REVERT_TO',
    );
  const s = await openSession(cfg, { lock: true });
  const done: AppliedMigration[] = [];
  res.migrations = done;
  try {
    await ensureHistoryTable(s);
    const executed = await executorFor(s).getExecutedMigrations(); // newest (highest id) first
    const history = await latestHistory(s);
    let targets = executed;
    if (cfg.REVERT_APPLIED_BY) {
      targets = targetsByRun(cfg.REVERT_APPLIED_BY, executed, await appliedByOf(s));
      log.info({ run: cfg.REVERT_APPLIED_BY, count: targets.length }, 'reverting what this run applied');
    } else if (cfg.REVERT_MIGRATIONS.length > 0) {
      const picked = targetsByName(cfg.REVERT_MIGRATIONS, executed, history);
      targets = picked.targets;
      if (picked.alreadyReverted.length > 0)
        log.info({ migrations: picked.alreadyReverted }, 'already reverted: nothing to do for these');
    } else if (cfg.REVERT_TO) {
      const idx = executed.findIndex((m) => m.name === cfg.REVERT_TO);
      if (idx < 0)
        throw new MigratorError(`REVERT_TO ${cfg.REVERT_TO} is not an applied migration`, cfg.REVERT_TO);
      targets = executed.slice(0, idx);
    } else {
      // Once per run: a revert Job started again (it vanished unseen) counts what this run
      // identity already reverted, read from its history rows, so N is never exceeded.
      const already = cfg.REVERT_STEPS_ONCE ? await revertedBy(s, cfg.MIGRATION_AUTHOR) : 0;
      const steps = Math.max(0, cfg.REVERT_STEPS - already);
      if (already > 0) log.info({ already, steps }, 'this run already reverted some: the rest only');
      if (steps > executed.length) {
        throw new MigratorError(
          `REVERT_STEPS=${cfg.REVERT_STEPS} but only ${executed.length} migration(s) are applied`,
        );
      }
      targets = executed.slice(0, steps);
    }
    // Every target is checked before any down() runs: a refused one stops the
    // revert with nothing undone, its row (and every other) still in place.
    const plan = targets.map((m) => {
      const loaded = s.byName.get(m.name);
      const instance = s.ds.migrations.find(
        (i) => ((i as { name?: string }).name ?? i.constructor.name) === m.name,
      );
      if (!loaded || !instance)
        throw new MigratorError(
          `cannot revert ${m.name}: its file is not in the migrations directory`,
          m.name,
        );
      if (loaded.downProblem)
        throw new MigratorError(
          `cannot revert ${m.name}: its down() is ${loaded.downProblem}, so reverting would only delete its record`,
          m.name,
        );
      const recorded = history.get(m.name);
      if (recorded?.direction === 'up' && recorded.checksum && recorded.checksum !== loaded.checksum)
        throw new MigratorError(
          `cannot revert ${m.name}: its file changed since it was applied (checksum ${recorded.checksum.slice(0, 12)}, now ${loaded.checksum.slice(0, 12)})`,
          m.name,
        );
      if (!recorded) log.warn({ migration: m.name }, 'no history row: its checksum cannot be compared');
      return { m, loaded, instance };
    });
    const mode = cfg.TRANSACTION_MODE;
    const overriding = plan.filter((p) => p.instance.transaction !== undefined);
    if (mode === 'all' && overriding.length > 0) {
      throw new MigratorError(
        `migrations ${overriding.map((p) => p.m.name).join(', ')} set their own transaction mode, which TRANSACTION_MODE=all cannot honour`,
        overriding[0]?.m.name,
      );
    }
    const qr: QueryRunner = s.qr;
    const undoOne = async (p: (typeof plan)[number]) => {
      log.info({ migration: p.m.name }, 'reverting migration');
      setCurrent(p.m.name);
      if (!qr.isTransactionActive)
        // Nothing rolls a down() back outside a transaction: record that it started, first, so a
        // failure half-way is on record (verify reports it half-reverted), never silent.
        await recordHistory(qr, cfg, {
          name: p.m.name,
          checksum: p.loaded.checksum,
          direction: 'reverting',
          durationMs: 0,
        });
      const t0 = performance.now();
      await p.instance.down(qr);
      const durationMs = Math.round(performance.now() - t0);
      await qr.query(`DELETE FROM ${migrationsTable(cfg)} WHERE id = $1`, [p.m.id]);
      await recordHistory(qr, cfg, {
        name: p.m.name,
        checksum: p.loaded.checksum,
        direction: 'down',
        durationMs,
      });
      return { name: p.m.name, durationMs, checksum: p.loaded.checksum, outcome: 'reverted' as const };
    };
    let current: string | undefined;
    try {
      if (mode === 'all') {
        const staged: AppliedMigration[] = [];
        await qr.startTransaction();
        try {
          for (const p of plan) {
            current = p.m.name;
            staged.push(await undoOne(p));
          }
          await qr.commitTransaction();
        } catch (err) {
          await qr.rollbackTransaction().catch(() => undefined);
          throw err;
        }
        done.push(...staged);
      } else {
        for (const p of plan) {
          current = p.m.name;
          const tx = p.instance.transaction ?? mode === 'each';
          if (tx) await qr.startTransaction();
          try {
            const entry = await undoOne(p);
            if (tx) await qr.commitTransaction();
            done.push(entry);
          } catch (err) {
            if (tx) await qr.rollbackTransaction().catch(() => undefined);
            throw err;
          }
        }
      }
    } catch (err) {
      if (current) {
        done.push({
          name: current,
          durationMs: 0,
          checksum: s.byName.get(current)?.checksum,
          outcome: 'failed',
        });
        Object.assign(err as object, { migration: current });
      }
      throw err;
    }
    log.info({ reverted: done.map((d) => d.name) }, 'revert finished');
  } finally {
    await s.close();
  }
}
