// Runs pg_dump / pg_restore as children: the password reaches them only
// through PGPASSWORD in the child's environment, never on a command line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from './config.js';
import { APP_NAME } from './db.js';
import { MigratorError } from './result.js';
import { scrub } from './scrub.js';
import { trackChild } from './shutdown.js';

export function toolPath(cfg: Config, tool: string): string {
  return cfg.PG_BIN_DIR ? join(cfg.PG_BIN_DIR, tool) : tool;
}

export function childEnv(cfg: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    PGHOST: cfg.PGHOST,
    PGPORT: String(cfg.PGPORT),
    PGDATABASE: cfg.PGDATABASE,
    PGUSER: cfg.PGUSER,
    PGSSLMODE: cfg.PGSSLMODE === 'no-verify' ? 'require' : cfg.PGSSLMODE,
    PGCONNECT_TIMEOUT: String(cfg.PGCONNECT_TIMEOUT),
    PGAPPNAME: APP_NAME,
  };
  if (cfg.PGPASSWORD) env.PGPASSWORD = cfg.PGPASSWORD;
  for (const k of ['PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'LANG', 'LC_ALL', 'TZ'])
    if (process.env[k]) env[k] = process.env[k];
  return env;
}

export interface ToolRun {
  stdout: string;
  stderr: string;
  ms: number;
}

export function runTool(cfg: Config, tool: string, args: string[]): Promise<ToolRun> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(toolPath(cfg, tool), args, { env: childEnv(cfg), stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new MigratorError(`cannot run ${tool}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = scrub(Buffer.concat(err).toString('utf8'));
      if (code === 0) return resolve({ stdout, stderr, ms: performance.now() - t0 });
      const lines = stderr
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      const errLine =
        lines.find((l) => /error:/i.test(l)) ?? lines[lines.length - 1] ?? `exit ${code ?? signal}`;
      reject(new MigratorError(`${tool} failed: ${errLine.replace(/^(pg_dump|pg_restore): /, '')}`));
    });
  });
}

/**
 * Restores `archive` inside ONE transaction of one psql session: `prelude`,
 * then pg_restore's SQL (`-f -`, which works for custom and directory format),
 * then `postlude` and COMMIT, which is sent only when pg_restore finished
 * cleanly. Any error (psql stops at the first with ON_ERROR_STOP, or pg_restore
 * fails half-way through the archive) ends the session without COMMIT, so the
 * server rolls everything back: the database is exactly as before.
 */
export function restoreInOneTransaction(
  cfg: Config,
  archive: string,
  prelude: string,
  postlude: string,
): Promise<ToolRun> {
  const t0 = performance.now();
  const env = {
    ...childEnv(cfg),
    // A workload still holding a lock makes the restore fail (rolled back) rather than wait forever.
    PGOPTIONS: `-c lock_timeout=${cfg.LOCK_TIMEOUT_SECONDS}s -c statement_timeout=0 -c client_min_messages=warning`,
  };
  return new Promise((resolve, reject) => {
    const psql = spawn(
      toolPath(cfg, 'psql'),
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-w', '-d', cfg.PGDATABASE, '-f', '-'],
      { env, stdio: ['pipe', 'ignore', 'pipe'] },
    );
    const restore = spawn(
      toolPath(cfg, 'pg_restore'),
      ['--clean', '--if-exists', '--exit-on-error', '-f', '-', archive],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    trackChild(psql);
    trackChild(restore);
    const errs = { psql: [] as Buffer[], pg_restore: [] as Buffer[] };
    psql.stderr.on('data', (b: Buffer) => errs.psql.push(b));
    restore.stderr.on('data', (b: Buffer) => errs.pg_restore.push(b));
    // psql may stop (and close its stdin) before pg_restore is done: that is its error to report.
    psql.stdin.on('error', () => undefined);
    psql.stdin.write(prelude);
    restore.stdout.pipe(psql.stdin, { end: false });
    let restoreCode: number | null | undefined;
    const spawnError = (tool: string) => (e: Error) =>
      reject(new MigratorError(`cannot run ${tool}: ${e.message}`));
    psql.on('error', spawnError('psql'));
    restore.on('error', spawnError('pg_restore'));
    restore.on('close', (code) => {
      restoreCode = code;
      // Without COMMIT the session ends and the server rolls the transaction back.
      if (code === 0) psql.stdin.end(postlude + '\nCOMMIT;\n');
      else psql.stdin.end();
    });
    psql.on('close', (code) => {
      const firstError = (tool: 'psql' | 'pg_restore') =>
        scrub(Buffer.concat(errs[tool]).toString('utf8'))
          .split('\n')
          .map((l) => l.trim())
          .find((l) => /error:/i.test(l))
          // "psql:<stdin>:37: ERROR:  cannot drop ..." / "pg_restore: error: ..." -> the message
          ?.replace(/^(psql|pg_restore):\s*/, '')
          .replace(/^<stdin>:\d+:\s*/, '')
          .replace(/^(ERROR|error):\s*/, '');
      if (code === 0 && restoreCode === 0)
        return resolve({ stdout: '', stderr: '', ms: performance.now() - t0 });
      const why =
        restoreCode !== 0 && restoreCode !== undefined
          ? `pg_restore failed: ${firstError('pg_restore') ?? `exit ${restoreCode}`}`
          : `psql failed: ${firstError('psql') ?? `exit ${code}`}`;
      reject(new MigratorError(`restore rolled back, the database is unchanged: ${why}`));
    });
  });
}
