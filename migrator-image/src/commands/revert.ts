// revert: undo the last REVERT_STEPS migrations, or every migration applied
// after REVERT_TO. Done by hand rather than MigrationExecutor.undoLastMigration,
// which wraps down() in a transaction even for `transaction = false`
// migrations (typeorm issue 9981): down() + delete of the migrations row +
// history row, in one transaction unless the migration or the mode says none.
import type { QueryRunner } from 'typeorm';
import type { AppliedMigration, JobResult } from '../../../crds/job-result.js';
import { ConfigError, type Config } from '../config.js';
import { log } from '../log.js';
import { MigratorError } from '../result.js';
import { ensureHistoryTable, executorFor, migrationsTable, openSession, recordHistory } from '../session.js';

export async function revert(cfg: Config, res: JobResult): Promise<void> {
  if (!cfg.REVERT_STEPS && !cfg.REVERT_TO)
    throw new ConfigError('invalid environment: set REVERT_STEPS or REVERT_TO for revert');
  if (cfg.REVERT_STEPS && cfg.REVERT_TO)
    throw new ConfigError('invalid environment: set only one of REVERT_STEPS and REVERT_TO');
  const s = await openSession(cfg, { lock: true });
  const done: AppliedMigration[] = [];
  res.migrations = done;
  try {
    await ensureHistoryTable(s);
    const executed = await executorFor(s).getExecutedMigrations(); // newest (highest id) first
    let targets = executed;
    if (cfg.REVERT_TO) {
      const idx = executed.findIndex((m) => m.name === cfg.REVERT_TO);
      if (idx < 0)
        throw new MigratorError(`REVERT_TO ${cfg.REVERT_TO} is not an applied migration`, cfg.REVERT_TO);
      targets = executed.slice(0, idx);
    } else {
      if (cfg.REVERT_STEPS > executed.length) {
        throw new MigratorError(
          `REVERT_STEPS=${cfg.REVERT_STEPS} but only ${executed.length} migration(s) are applied`,
        );
      }
      targets = executed.slice(0, cfg.REVERT_STEPS);
    }
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
