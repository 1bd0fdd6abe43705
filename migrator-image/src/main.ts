#!/usr/bin/env node
// migrator <command>: the program the operator's Jobs run. Every command writes
// exactly one JobResult (crds/job-result.ts) to RESULT_PATH and exits 0 only on
// success.
import type pg from 'pg';
import { fullResultLine, type JobResult, type JobStep } from '../../crds/job-result.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { APP_NAME, connect } from './db.js';
import { log } from './log.js';
import { toResultError, totalsOf, usage, writeResult } from './result.js';
import { registerSecret, scrub } from './scrub.js';
import {
  exitFlushed,
  installSignalHandlers,
  stopAfterMs,
  terminatedBy,
  terminationError,
  type BackendKiller,
  type StopCause,
} from './shutdown.js';

type Command = (cfg: Config, res: JobResult) => Promise<void>;

const commands: Record<JobStep, () => Promise<Command>> = {
  migrate: async () => (await import('./commands/migrate.js')).migrate,
  verify: async () => (await import('./commands/verify.js')).verify,
  backup: async () => (await import('./commands/backup.js')).backup,
  restore: async () => (await import('./commands/restore.js')).restore,
  check: async () => (await import('./commands/check.js')).check,
  revert: async () => (await import('./commands/revert.js')).revert,
};
/** The check Job's first container: it reads the target for the check (its result is the check's). */
const capture = async (): Promise<Command> => (await import('./commands/capture.js')).capture;

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

function isStep(s: string | undefined): s is JobStep {
  return s !== undefined && Object.hasOwn(commands, s);
}

// The step deadline is counted from the process start: the time before it (image
// pull, the init container's copy) is not known here, which the margin absorbs.
const STARTED = performance.now();

export async function main(argv: string[]): Promise<number> {
  registerSecret(process.env.PGPASSWORD);
  registerSecret(process.env.SHADOW_PGPASSWORD);
  // `capture` is the check step's first half: its result, if it fails, is the check's.
  const name = argv[0] === 'capture' ? 'check' : argv[0];
  const load = argv[0] === 'capture' ? capture : isStep(name) ? commands[name] : undefined;
  // `wait` (the Helm hook waiter) is not an operator Job step: no JobResult.
  if (name === 'wait') return (await import('./commands/wait.js')).wait();
  // `lint` reads plain SQL files, needs no database and writes no JobResult either.
  if (name === 'lint') return (await import('./commands/lint.js')).lint(argv.slice(1));
  // `check` with options is the local CLI (an app's CI); the Job runs a bare `check`.
  if (name === 'check' && argv.length > 1)
    return (await import('./commands/check-cli.js')).checkCli(argv.slice(1));
  const resultPath = process.env.RESULT_PATH || '/dev/termination-log';
  const budget = Number(process.env.RESULT_MAX_BYTES);
  const resultMax = Number.isInteger(budget) && budget >= 512 && budget <= 4096 ? budget : undefined;
  if (!isStep(name) || !load) {
    process.stderr.write(
      `usage: migrator <${[...Object.keys(commands), 'capture', 'wait', 'lint'].join('|')}>\n`,
    );
    return 2;
  }
  // A step takes its settings from the environment only: `migrator migrate --dry-run` must not
  // migrate for real because the flag was silently ignored.
  if (argv.length > 1) {
    process.stderr.write(
      `migrator ${name}: unexpected argument ${JSON.stringify(argv[1])}: the steps take no arguments (settings come from the environment; see migrator-image/README.md)\n`,
    );
    return 2;
  }
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
      ...stopAfterMs(cfg.STEP_DEADLINE_SECONDS, cfg.SHUTDOWN_GRACE_SECONDS, STARTED),
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

const code = await main(process.argv.slice(2));
// Exit explicitly so no stray handle (pool timers) keeps a finished Job alive,
// but only once stdout and stderr are written out: a pipe (a Job's log, the
// check's child) is asynchronous in Node, and an early exit cut the full result
// line of a 351-migration plan at 146 KB, which then read as an empty plan.
await exitFlushed(code, 60_000);
