#!/usr/bin/env node
// migrator <command>: the program the operator's Jobs run. Every command writes
// exactly one JobResult (crds/job-result.ts) to RESULT_PATH and exits 0 only on
// success.
import type { JobResult, JobStep } from '../../crds/job-result.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { log } from './log.js';
import { toResultError, usage, writeResult } from './result.js';
import { registerSecret, scrub } from './scrub.js';

type Command = (cfg: Config, res: JobResult) => Promise<void>;

const commands: Record<JobStep, () => Promise<Command>> = {
  migrate: async () => (await import('./commands/migrate.js')).migrate,
  verify: async () => (await import('./commands/verify.js')).verify,
  backup: async () => (await import('./commands/backup.js')).backup,
  restore: async () => (await import('./commands/restore.js')).restore,
  check: async () => (await import('./commands/check.js')).check,
  revert: async () => (await import('./commands/revert.js')).revert,
};

function isStep(s: string | undefined): s is JobStep {
  return s !== undefined && Object.hasOwn(commands, s);
}

export async function main(argv: string[]): Promise<number> {
  registerSecret(process.env.PGPASSWORD);
  const name = argv[0];
  // `wait` (the Helm hook waiter) is not an operator Job step: no JobResult.
  if (name === 'wait') return (await import('./commands/wait.js')).wait();
  // `lint` reads plain SQL files, needs no database and writes no JobResult either.
  if (name === 'lint') return (await import('./commands/lint.js')).lint(argv.slice(1));
  const resultPath = process.env.RESULT_PATH || '/dev/termination-log';
  if (!isStep(name)) {
    process.stderr.write(`usage: migrator <${[...Object.keys(commands), 'wait', 'lint'].join('|')}>\n`);
    return 2;
  }
  const res: JobResult = { step: name, ok: false, startedAt: new Date().toISOString(), finishedAt: '' };
  let code = 1;
  try {
    const cfg = loadConfig();
    log.info(
      { command: name, host: cfg.PGHOST, port: cfg.PGPORT, database: cfg.PGDATABASE, user: cfg.PGUSER },
      'migrator starting',
    );
    const run = await commands[name]();
    await run(cfg, res);
    res.ok = true;
    code = 0;
  } catch (err) {
    res.ok = false;
    res.error = toResultError(err);
    code = err instanceof ConfigError ? 2 : 1;
    log.error({ error: res.error }, `${name} failed`);
  }
  res.finishedAt = new Date().toISOString();
  res.usage = usage();
  try {
    const text = writeResult(resultPath, res);
    log.info({ ok: res.ok, bytes: Buffer.byteLength(text) }, 'result written');
  } catch (err) {
    log.error({ err: scrub(String((err as Error).message)) }, 'could not write the result');
    code = code || 1;
  }
  return code;
}

const code = await main(process.argv.slice(2));
// pino's stdout writes are synchronous for a plain stream; exit explicitly so
// no stray handle (pool timers) keeps a finished Job alive.
process.exitCode = code;
setTimeout(() => process.exit(code), 50).unref();
