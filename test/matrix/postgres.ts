// PostgreSQL servers of any major for the matrix tests: binaries fetched by
// scripts/postgres-versions.sh (cached outside the repository), a throwaway
// cluster in a temp dir on 127.0.0.1 and a free port, with a password-
// authenticated superuser. PostgreSQL refuses to run as root: as root, the
// server runs as the `postgres` user (Debian's package creates it; else
// `nobody`), through a hard-linked copy of the binaries when that user cannot
// read the cache (~root is private).
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Server {
  host: string;
  port: number;
  user: string;
  password: string;
  /** server_version, e.g. "17.10". */
  version: string;
  /** SELECT version(). */
  versionFull: string;
  /** initdb + start, in ms. */
  startMs: number;
  /** The server binaries as the server's OS user can run them (a copy when run as root). */
  binDir: string;
  /** Stops the server and removes its directory. */
  stop(): void;
  /** Stops the server, keeping its data (fault tests): `fast` rolls back sessions, `immediate` crashes. */
  halt(mode: 'fast' | 'immediate'): void;
  /** Starts a halted server again on the same port and data (crash recovery runs after `immediate`). */
  resume(): void;
}

function uidGid(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function serviceUser(): string {
  for (const u of ['postgres', 'nobody']) if (spawnSync('id', ['-u', u]).status === 0) return u;
  throw new Error('running as root and neither a postgres nor a nobody user exists: PostgreSQL refuses root');
}

/** Starts a throwaway server from `bin` (initdb, pg_ctl, postgres of one major); `crashSafe` for crash tests. */
export async function startServer(bin: string, options: { crashSafe?: boolean } = {}): Promise<Server> {
  const t0 = performance.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'dbm-matrix-pg-'));
  const data = path.join(dir, 'data');
  const user = 'dbm_admin';
  const password = randomBytes(12).toString('hex') + 'Aa1!';
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  let run = (cmd: string, args: string[]): SpawnSyncReturns<string> =>
    spawnSync(cmd, args, { encoding: 'utf8' });
  let binDir = bin;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const runAs = serviceUser();
    owner = uidGid(runAs);
    chownSync(dir, owner.uid, owner.gid);
    run = (cmd, args) => spawnSync('runuser', ['-u', runAs, '--', cmd, ...args], { encoding: 'utf8' });
    if (run('test', ['-x', path.join(bin, 'postgres')]).status !== 0) {
      // The binaries find lib/ and share/ relative to bin/: copy the whole tree (hard links when possible).
      const copy = path.join(dir, 'pg');
      const src = path.dirname(bin);
      if (spawnSync('cp', ['-al', src, copy]).status !== 0) execFileSync('cp', ['-a', src, copy]);
      binDir = path.join(copy, 'bin');
    }
  }
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  const fail = (what: string, r: SpawnSyncReturns<string>): never => {
    const logFile = path.join(dir, 'postgres.log');
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${what} (${bin}) failed: ${r.error?.message ?? ''}${r.stderr || r.stdout}\n${tail}`);
  };
  const init = run(path.join(binDir, 'initdb'), [
    '-D',
    data,
    '-U',
    user,
    '--pwfile',
    pwfile,
    '--auth=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ]);
  if (init.status !== 0) fail('initdb', init);
  // fsync stays off (the machine does not crash, only the server); a crash-safe server keeps
  // synchronous_commit on, else a commit acknowledged just before `pg_ctl stop -m immediate` is lost.
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off${
    options.crashSafe ? '' : ' -c synchronous_commit=off'
  }`;
  const logFile = path.join(dir, 'postgres.log');
  const start = run(path.join(binDir, 'pg_ctl'), [
    '-D',
    data,
    '-o',
    opts,
    '-l',
    logFile,
    '-w',
    '-t',
    '60',
    'start',
  ]);
  if (start.status !== 0) fail('pg_ctl start', start);
  const halt = (mode: 'fast' | 'immediate') => {
    const r = run(path.join(binDir, 'pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    if (r.status !== 0) throw new Error(`pg_ctl stop -m ${mode} failed: ${r.stderr || r.stdout}`);
  };
  const resume = () => {
    const r = run(path.join(binDir, 'pg_ctl'), [
      '-D',
      data,
      '-o',
      opts,
      '-l',
      logFile,
      '-w',
      '-t',
      '60',
      'start',
    ]);
    if (r.status !== 0) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`pg_ctl start (again) failed: ${r.stderr || r.stdout}\n${tail}`);
    }
  };
  const stop = () => {
    const r = run(path.join(binDir, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    if (r.status !== 0 && existsSync(path.join(data, 'postmaster.pid'))) {
      const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        /* already gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
  try {
    await c.connect();
    const r = await c.query<{ v: string; full: string }>(
      "SELECT current_setting('server_version') AS v, version() AS full",
    );
    const version = r.rows[0]?.v.split(' ')[0] ?? '';
    const versionFull = r.rows[0]?.full ?? '';
    return {
      host: '127.0.0.1',
      port,
      user,
      password,
      version,
      versionFull,
      startMs: Math.round(performance.now() - t0),
      binDir,
      stop,
      halt,
      resume,
    };
  } catch (err) {
    stop();
    throw err;
  } finally {
    await c.end().catch(() => undefined);
  }
}
