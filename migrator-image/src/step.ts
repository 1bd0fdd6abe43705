// One operator Job step (main.ts chose it): configuration, signal handling and
// the step deadline, the command, and exactly one JobResult on RESULT_PATH.
// Apart from main.ts so that the dispatch (usage, wait, lint) loads none of it.
import type pg from 'pg';
import { fullResultLine, type JobResult, type JobStep } from '../../crds/job-result.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { APP_NAME, connect } from './db.js';
import { exitFlushed } from './exit.js';
import { log } from './log.js';
import { toResultError, totalsOf, usage, writeResult } from './result.js';
import { scrub } from './scrub.js';
import {
  installSignalHandlers,
  stopAfterMs,
  terminatedBy,
  terminationError,
  type BackendKiller,
  type StopCause,
} from './shutdown.js';

export type Command = (cfg: Config, res: JobResult) => Promise<void>;

/** Cancels or terminates every backend of this process (found by its unique application_name). */
function backendKiller(cfg: Config): { kill: BackendKiller; close: () => Promise<void> } {
  let ctl: Promise<pg.Client> | undefined;
  return {
    kill: async (how) => {
      // A failed connect is forgotten so the next tick (every 250 ms) tries again.
      ctl ??= connect(cfg)
        .then((c) => c.client)
        .catch((err: unknown) => {
          ctl = undefined;
          throw err;
        });
      const c = await ctl;
      await c.query(
        `SELECT pg_${how === 'cancel' ? 'cancel' : 'terminate'}_backend(pid) FROM pg_stat_activity
          WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [APP_NAME],
      );
    },
    close: async () => {
      if (ctl) await (await ctl.catch(() => undefined))?.end().catch(() => undefined);
    },
  };
}

// Stopped for the step deadline: 124, what timeout(1) exits with.
const SIGNAL_EXIT: Partial<Record<StopCause, number>> = { SIGINT: 130, SIGTERM: 143, deadline: 124 };

/** Runs step `name` (its command from `load`) and returns the exit code; `started` is the process start. */
export async function runStep(name: JobStep, load: () => Promise<Command>, started: number): Promise<number> {
  const resultPath = process.env.RESULT_PATH || '/dev/termination-log';
  const budget = Number(process.env.RESULT_MAX_BYTES);
  const resultMax = Number.isInteger(budget) && budget >= 512 && budget <= 4096 ? budget : undefined;
  const res: JobResult = { step: name, ok: false, startedAt: new Date().toISOString(), finishedAt: '' };
  let written = false;
  let block: Config['SAFETY_BLOCK'] | undefined;
  // Writes the one result; a second call (the shutdown deadline racing the command) is ignored.
  const finish = (code: number): number => {
    if (written) return code;
    written = true;
    res.finishedAt = new Date().toISOString();
    res.usage = usage();
    // Counted on the full lists, before serializeResult may shorten them.
    if (res.plan || res.migrations || res.verify) res.totals = totalsOf(res, block);
    try {
      // The full result first (lists uncut, scrubbed) for the plan ConfigMap; the
      // termination message below is the one the operator decides on.
      process.stdout.write(`${fullResultLine(scrub(JSON.stringify(res)))}\n`);
      // The operator gives the share of the Pod's 12 KiB its container gets (RESULT_MAX_BYTES).
      const text = writeResult(resultPath, res, resultMax);
      log.info({ ok: res.ok, bytes: Buffer.byteLength(text) }, 'result written');
    } catch (err) {
      log.error({ err: scrub(String((err as Error).message)) }, 'could not write the result');
      code = code || 1;
    }
    return code;
  };
  let code = 1;
  let killer: ReturnType<typeof backendKiller> | undefined;
  let signals: { done: () => void } | undefined;
  try {
    const cfg = loadConfig();
    block = cfg.SAFETY_BLOCK;
    killer = backendKiller(cfg);
    const k = killer;
    signals = installSignalHandlers({
      killBackends: k.kill,
      graceMs: cfg.SHUTDOWN_GRACE_SECONDS * 1000,
      ...stopAfterMs(cfg.STEP_DEADLINE_SECONDS, cfg.SHUTDOWN_GRACE_SECONDS, started),
      log: (msg, fields) => log.warn(fields ?? {}, msg),
      onDeadline: () => {
        // The command did not unwind in time: our sessions are terminated (so the
        // server rolls back), record the termination and leave.
        res.ok = false;
        res.error = toResultError(terminationError());
        log.error({ error: res.error }, `${name} did not stop within the grace period`);
        const c = finish(SIGNAL_EXIT[terminatedBy() ?? 'SIGTERM'] ?? 1);
        void exitFlushed(c, 5_000);
      },
    });
    log.info(
      { command: name, host: cfg.PGHOST, port: cfg.PGPORT, database: cfg.PGDATABASE, user: cfg.PGUSER },
      'migrator starting',
    );
    const run = await load();
    // A signal after the command finished changes nothing: its work is committed.
    await run(cfg, res);
    res.ok = true;
    code = 0;
  } catch (err) {
    res.ok = false;
    const signal = terminatedBy();
    if (signal) {
      // Whatever the cancelled statement said, the cause is the signal; keep
      // the migration the command attributed the failure to.
      const migration = (err as { migration?: unknown }).migration;
      res.error = toResultError(terminationError(typeof migration === 'string' ? migration : undefined));
      code = SIGNAL_EXIT[signal] ?? 1;
    } else {
      res.error = toResultError(err);
      code = err instanceof ConfigError ? 2 : 1;
    }
    log.error({ error: res.error }, `${name} failed`);
  }
  signals?.done();
  await killer?.close();
  return finish(code);
}
