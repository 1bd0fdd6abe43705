#!/usr/bin/env node
// migrator <command>: the program the operator's Jobs run. Every command writes
// exactly one JobResult (crds/job-result.ts) to RESULT_PATH and exits 0 only on
// success. This file only dispatches, importing nothing at start-up: a step's
// machinery is step.ts and each command's code is loaded when it runs.
import type { JobStep } from '../../crds/job-result.js';
import { exitFlushed } from './exit.js';
import { registerSecret } from './scrub.js';
import type { Command } from './step.js';

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
  return (await import('./step.js')).runStep(name, load, STARTED);
}

const code = await main(process.argv.slice(2));
// Exit explicitly so no stray handle (pool timers) keeps a finished Job alive,
// but only once stdout and stderr are written out: a pipe (a Job's log, the
// check's child) is asynchronous in Node, and an early exit cut the full result
// line of a 351-migration plan at 146 KB, which then read as an empty plan.
await exitFlushed(code, 60_000);
