// Runs pg_dump / pg_restore as children: the password reaches them only
// through PGPASSWORD in the child's environment, never on a command line.
// Before either talks to a server, the client's version is compared with the
// server's: pg_dump refuses a server newer than itself, and the migrator says so
// in its result instead of relaying pg_dump's last stderr line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type pg from 'pg';
import type { Config } from './config.js';
import { APP_NAME } from './db.js';
import { MigratorError } from './result.js';
import { scrub } from './scrub.js';
import { libpqKeyFile } from './tls-files.js';
import { trackChild } from './shutdown.js';

export function toolPath(cfg: Config, tool: string): string {
  const dir = cfg.PG_CLIENT_BIN_DIR ?? cfg.PG_BIN_DIR;
  return dir ? join(dir, tool) : tool;
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
  for (const k of ['PGSSLROOTCERT', 'PGSSLCERT', 'LANG', 'LC_ALL', 'TZ'])
    if (process.env[k]) env[k] = process.env[k];
  if (process.env.PGSSLKEY) env.PGSSLKEY = libpqKeyFile(process.env.PGSSLKEY);
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

/** A PostgreSQL version: its major (9.6 before 10, then 10, 11, ...) and how it reads ("17.4"). */
export interface PgVersion {
  major: number;
  version: string;
}

/** Parses `pg_dump --version` ("pg_dump (PostgreSQL) 18.6 (Debian 18.6-3)"). */
export function parseClientVersion(text: string): PgVersion | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const first = Number(m[1]);
  const second = m[2] === undefined ? undefined : Number(m[2]);
  const version = m[0].replace(/^\(PostgreSQL\)\s+/, '');
  return { major: first >= 10 || second === undefined ? first : first + second / 10, version };
}

/** The server's version from `server_version_num` (170004 = 17.4, 90624 = 9.6.24). */
export function serverVersionFromNum(num: number, text?: string): PgVersion {
  const major =
    num >= 100000 ? Math.floor(num / 10000) : Math.floor(num / 10000) + Math.floor((num % 10000) / 100) / 10;
  const version =
    text?.split(' ')[0] ?? (num >= 100000 ? `${major}.${num % 10000}` : `${major}.${num % 100}`);
  return { major, version };
}

/** Why `tool` (pg_dump, pg_restore) of the `client` version cannot serve `server`, or undefined. */
export function clientServerMismatch(tool: string, client: PgVersion, server: PgVersion): string | undefined {
  if (server.major <= client.major) return undefined;
  const verb = tool === 'pg_dump' ? 'dump' : 'restore into';
  return `${tool} ${client.version} cannot ${verb} a PostgreSQL ${server.version} server: the migrator image needs ${tool} >= ${server.major}`;
}

const clientVersions = new Map<string, Promise<PgVersion>>();

/** The version of a client tool, from its `--version` (once per process; callers share one run). */
export function clientVersion(cfg: Config, tool: string): Promise<PgVersion> {
  const path = toolPath(cfg, tool);
  const known = clientVersions.get(path);
  if (known) return known;
  const reading = runTool(cfg, tool, ['--version']).then(({ stdout }) => {
    const v = parseClientVersion(stdout);
    if (!v)
      throw new MigratorError(`cannot read the version of ${tool} from "${stdout.trim().slice(0, 100)}"`);
    return v;
  });
  clientVersions.set(path, reading);
  // A failed run is not remembered: the next caller tries again.
  reading.catch(() => clientVersions.delete(path));
  return reading;
}

/** The version of the server `q` is connected to. */
export async function serverVersion(q: pg.Client): Promise<PgVersion> {
  const r = await q.query<{ n: string; v: string }>(
    "SELECT current_setting('server_version_num') AS n, current_setting('server_version') AS v",
  );
  return serverVersionFromNum(Number(r.rows[0]?.n ?? 0), r.rows[0]?.v);
}

/** Fails with a clear message when the server is newer than `tool`; returns both versions. */
export async function assertClientServes(
  cfg: Config,
  tool: string,
  q: pg.Client,
): Promise<{ client: PgVersion; server: PgVersion }> {
  const [client, server] = await Promise.all([clientVersion(cfg, tool), serverVersion(q)]);
  const why = clientServerMismatch(tool, client, server);
  if (why) throw new MigratorError(why);
  return { client, server };
}

/** pg_restore 17+ writes this into every restore; servers before 17 reject it. */
export const TRANSACTION_TIMEOUT_SET = 'SET transaction_timeout = 0;';

/**
 * A line filter for the header of pg_restore's SQL script: drops `drop` lines until the
 * header ends (the search_path line that follows the fixed settings), then passes bytes
 * through untouched, so table data is never looked at.
 */
export function headerFilter(drop: string[]): (chunk: Buffer | null) => Buffer {
  let inHeader = true;
  let pending = Buffer.alloc(0);
  let lines = 0;
  return (chunk) => {
    if (!inHeader) return chunk ?? Buffer.alloc(0);
    if (chunk) pending = Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    let nl: number;
    while (inHeader && (nl = pending.indexOf(0x0a)) >= 0) {
      const raw = pending.subarray(0, nl + 1);
      pending = pending.subarray(nl + 1);
      const line = raw.toString('utf8').trim();
      lines++;
      if (!drop.includes(line)) out.push(raw);
      if (line.startsWith('SELECT pg_catalog.set_config(') || lines >= 200) inHeader = false;
    }
    // Past the header, or at the end: the rest goes out as it came.
    if (!inHeader || !chunk) {
      out.push(pending);
      pending = Buffer.alloc(0);
    }
    return Buffer.concat(out);
  };
}

/**
 * Restores through pg_restore's SQL script piped into psql (ON_ERROR_STOP, one transaction),
 * with the header's settings the server does not know removed. For servers older than the
 * client's transaction_timeout (17): pg_restore 18 connected to them fails on its first SET.
 */
export function restoreThroughPsql(
  cfg: Config,
  restoreArgs: string[],
  psqlArgs: string[],
  drop: string[],
): Promise<ToolRun> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const env = childEnv(cfg);
    const restore = spawn(toolPath(cfg, 'pg_restore'), ['-f', '-', ...restoreArgs], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const psql = spawn(
      toolPath(cfg, 'psql'),
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', ...psqlArgs],
      { env, stdio: ['pipe', 'ignore', 'pipe'] },
    );
    const filter = headerFilter(drop);
    const errs = { pg_restore: [] as Buffer[], psql: [] as Buffer[] };
    const codes: Partial<Record<'pg_restore' | 'psql', number | null>> = {};
    let failed: Error | undefined;
    restore.stdout.on('data', (b: Buffer) => {
      if (!psql.stdin.write(filter(b))) {
        restore.stdout.pause();
        psql.stdin.once('drain', () => restore.stdout.resume());
      }
    });
    restore.stdout.on('end', () => psql.stdin.end(filter(null)));
    psql.stdin.on('error', () => undefined); // psql stopped early: its own exit says why
    restore.stderr.on('data', (b: Buffer) => errs.pg_restore.push(b));
    psql.stderr.on('data', (b: Buffer) => errs.psql.push(b));
    for (const [tool, child] of [
      ['pg_restore', restore],
      ['psql', psql],
    ] as const) {
      child.on('error', (e) => (failed ??= new MigratorError(`cannot run ${tool}: ${e.message}`)));
      child.on('close', (code) => {
        codes[tool] = code;
        if (tool === 'psql' && code !== 0) restore.kill();
        if (!('pg_restore' in codes) || !('psql' in codes)) return;
        if (failed) return reject(failed);
        const stderr = {
          pg_restore: scrub(Buffer.concat(errs.pg_restore).toString('utf8')),
          psql: scrub(Buffer.concat(errs.psql).toString('utf8')),
        };
        if (codes.psql === 0 && codes.pg_restore === 0)
          return resolve({ stdout: '', stderr: stderr.pg_restore + stderr.psql, ms: performance.now() - t0 });
        const lines = (codes.psql !== 0 ? stderr.psql : stderr.pg_restore)
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
        const line = lines.find((l) => /error/i.test(l)) ?? lines[lines.length - 1] ?? 'no message';
        reject(
          new MigratorError(`pg_restore failed: ${line.replace(/^(pg_restore: |psql:<stdin>:\d+: )/, '')}`),
        );
      });
    }
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
  /** Header lines of pg_restore's script the server does not know (see TRANSACTION_TIMEOUT_SET). */
  dropHeaderLines: string[] = [],
  /** pg_restore's selection: a table of contents (-L), schemas (-n). */
  select: string[] = [],
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
      ['--clean', '--if-exists', '--exit-on-error', ...select, '-f', '-', archive],
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
    if (dropHeaderLines.length === 0) restore.stdout.pipe(psql.stdin, { end: false });
    else {
      const filter = headerFilter(dropHeaderLines);
      restore.stdout.on('data', (b: Buffer) => {
        if (!psql.stdin.write(filter(b))) restore.stdout.pause();
      });
      psql.stdin.on('drain', () => restore.stdout.resume());
      restore.stdout.on('end', () => psql.stdin.write(filter(null)));
    }
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
