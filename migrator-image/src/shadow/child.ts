// `migrator check` run by hand or in an app's CI holds the target's
// credentials (a URL or PG*). It captures the target itself, then runs the
// migration code in a child process whose environment names no target: no
// PG*, no DATABASE_URL, no TYPEORM_* (a migration that opens its own
// `new pg.Client()` reaches the private server, never the target). In a Job
// the two halves are two containers (capture, then check), and this is unused.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECTION_ENV, FULL_RESULT_MARKER, type JobResult } from '../../../crds/job-result.js';
import { logStream } from '../log.js';
import { MigratorError } from '../result.js';
import { trackChild } from '../shutdown.js';

export const LIFTOFF_ONLY = '--liftoff-only';

export function envWithoutTarget(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!CONNECTION_ENV.test(k)) out[k] = v;
  return out;
}

/** The error of the check's child process, as toResultError reads it back. */
export function childError(e: NonNullable<JobResult['error']>): Error {
  return Object.assign(new Error(e.message), {
    ...(e.code ? { code: e.code } : {}),
    ...(e.migration ? { migration: e.migration } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
    ...(e.hint ? { hint: e.hint } : {}),
    ...(e.statement ? { query: e.statement } : {}),
  });
}

/**
 * Runs `migrator check` on the capture in `captureDir` as a child process and
 * returns its full (uncut) result. Its log lines go where ours go; its result
 * line is read, not repeated.
 */
export async function runCheckChild(captureDir: string, env: NodeJS.ProcessEnv): Promise<JobResult> {
  const dir = mkdtempSync(join(tmpdir(), 'dbm-check-'));
  const main = process.argv[1];
  if (!main) throw new MigratorError('cannot find the migrator program to run the check');
  // --liftoff-only (as the image's entrypoint): the check parses every statement with
  // libpg-query's WebAssembly, which V8's optimizing tier otherwise recompiles in the
  // background (~520 MB, and 2-3 s at exit after the result is written).
  const flags = [...process.execArgv.filter((a) => a !== LIFTOFF_ONLY), LIFTOFF_ONLY];
  const child = spawn(process.execPath, [...flags, main, 'check'], {
    env: { ...envWithoutTarget(env), CAPTURE_DIR: captureDir, RESULT_PATH: join(dir, 'result.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  let full: string | undefined;
  let pending = '';
  child.stdout.on('data', (b: Buffer) => {
    pending += b.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.startsWith(FULL_RESULT_MARKER)) full = line;
      else logStream().write(`${line}\n`);
    }
  });
  child.stderr.on('data', (b: Buffer) => logStream().write(b));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', (e) => reject(new MigratorError(`cannot start the check: ${e.message}`)));
      child.on('close', (c) => resolve(c));
    });
    if (full) return (JSON.parse(full) as { dbmigrateFullResult: JobResult }).dbmigrateFullResult;
    // No full line (killed): the termination file, if it was written. A cut one
    // (lists dropped to fit) must not pass for a whole plan: an empty list is
    // not "nothing pending".
    let cut: JobResult;
    try {
      cut = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as JobResult;
    } catch {
      throw new MigratorError(`the check's process ended (exit ${code}) without a result`);
    }
    if (cut.truncated && cut.ok)
      throw new MigratorError(
        `the check's process ended (exit ${code}) without its full result; its short result was cut, so the plan is unknown`,
      );
    return cut;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
