// The one way the tests and the bench start a throwaway PostgreSQL: the migrator
// project's global setup (test/setup/postgres-setup.ts, which the bench reuses),
// the matrix (a fetched server of each major), the fault suite (a crash-safe
// server it halts and resumes) and the TLS-only server (test/migrator/tls-postgres.ts).
//
// initdb in a temp dir, on 127.0.0.1 (and `listen`) and a free port, with a
// password-authenticated superuser (scram-sha-256) and fsync off; the settings go
// into the cluster's postgresql.conf, so a resumed server runs with the same ones.
// PostgreSQL refuses to run as root: as root, the server runs as the `postgres`
// user (Debian's package creates it; else `nobody`), through a hard-linked copy of
// the binaries when that user cannot read them (~root is private).
//
// The demo's PostgreSQL (scripts/demo/postgres.sh) is not one of these: it is a
// long-lived server on the node for the pods, with its own data directory.
//
// jest loads a globalSetup with Node's own loader (type stripping, no .js to .ts
// mapping): this file has no TypeScript-only syntax and spells relative imports .ts.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';

export { freePort };

const DEBIAN_ROOT = '/usr/lib/postgresql';
const INSTALL = 'run `bash scripts/install-system-deps.sh`';

/** The bin dir of the newest Debian PostgreSQL that has `tool` (initdb: the server package). */
export function debianBinDir(tool = 'initdb'): string {
  if (!existsSync(DEBIAN_ROOT)) throw new Error(`PostgreSQL is not installed: ${INSTALL}`);
  const newest = readdirSync(DEBIAN_ROOT)
    .filter((v) => existsSync(path.join(DEBIAN_ROOT, v, 'bin', tool)))
    .sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no ${tool} under ${DEBIAN_ROOT}: ${INSTALL}`);
  return path.join(DEBIAN_ROOT, newest, 'bin');
}

export interface StartOptions {
  /** initdb, pg_ctl and postgres of one major. */
  bin: string;
  /** The temp dir's name prefix (default dbm-pg-). */
  prefix?: string;
  /** The superuser's password (default: random, with a symbol and both cases). */
  password?: string;
  /** Keep synchronous_commit on: a commit acknowledged just before `halt('immediate')` survives it. */
  crashSafe?: boolean;
  /** Addresses to listen on (default 127.0.0.1); the port is one free on 127.0.0.1. */
  listen?: string[];
  /** pg_hba.conf, replacing initdb's (scram-sha-256 for every connection). */
  hba?: string[];
  /** The server's certificate and key and the CA of client certificates: copied in, ssl on. */
  tls?: { cert: string; key: string; ca: string };
  /** More postgresql.conf settings (e.g. max_connections). */
  settings?: Record<string, string | number>;
  /** Statements run as the superuser once the server is up (over its Unix socket). */
  initSql?: string[];
}

export type ShutdownMode = 'fast' | 'immediate';

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
  /** The server's directory: data/, postgres.log and the Unix socket. */
  dir: string;
  /** PG* of the superuser for a client (database postgres). */
  env: Record<'PGHOST' | 'PGPORT' | 'PGUSER' | 'PGPASSWORD' | 'PGDATABASE', string>;
  /** Stops the server (`immediate` unless told) and removes its directory. */
  stop(mode?: ShutdownMode): void;
  /** Stops the server, keeping its data (fault tests): `fast` rolls back sessions, `immediate` crashes. */
  halt(mode: ShutdownMode): void;
  /** Starts a halted server again on the same port and data (crash recovery runs after `immediate`). */
  resume(): void;
}

type Run = (cmd: string, args: string[]) => SpawnSyncReturns<string>;

/** How the server's programs run: as ourselves, or (as root) as a service user who owns `dir`. */
interface RunAs {
  run: Run;
  binDir: string;
  own(file: string): void;
}

function serviceUser(): string {
  for (const u of ['postgres', 'nobody']) if (spawnSync('id', ['-u', u]).status === 0) return u;
  throw new Error('running as root and neither a postgres nor a nobody user exists: PostgreSQL refuses root');
}

function runAs(bin: string, dir: string): RunAs {
  if (process.getuid?.() !== 0)
    return { run: (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' }), binDir: bin, own: () => {} };
  const user = serviceUser();
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  const [uid, gid] = [id('-u'), id('-g')];
  const own = (file: string) => chownSync(file, uid, gid);
  own(dir);
  const run: Run = (cmd, args) =>
    spawnSync('runuser', ['-u', user, '--', cmd, ...args], { encoding: 'utf8' });
  let binDir = bin;
  if (run('test', ['-x', path.join(bin, 'postgres')]).status !== 0) {
    // The binaries find lib/ and share/ relative to bin/: copy the whole tree (hard links when possible).
    const copy = path.join(dir, 'pg');
    const src = path.dirname(bin);
    if (spawnSync('cp', ['-al', src, copy]).status !== 0) execFileSync('cp', ['-a', src, copy]);
    binDir = path.join(copy, 'bin');
  }
  return { run, binDir, own };
}

/** postgresql.conf lines, every value quoted. */
function confLines(settings: Record<string, string | number>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k} = '${String(v).replaceAll("'", "''")}'\n`)
    .join('');
}

/** Starts a throwaway server; it runs until stop() (or the machine restarts). */
export async function startServer(options: StartOptions): Promise<Server> {
  const t0 = performance.now();
  const { bin } = options;
  const dir = mkdtempSync(path.join(tmpdir(), options.prefix ?? 'dbm-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const user = 'dbm_admin';
  const password = options.password ?? randomBytes(12).toString('hex') + 'Aa1!';
  const port = await freePort();
  const as = runAs(bin, dir);
  const pgCtl = (args: string[]) => as.run(path.join(as.binDir, 'pg_ctl'), ['-D', data, ...args]);
  const logTail = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '');
  const fail = (what: string, r: SpawnSyncReturns<string>): never => {
    const tail = logTail();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${what} (${bin}) failed: ${r.error?.message ?? ''}${r.stderr || r.stdout}\n${tail}`);
  };

  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  as.own(pwfile);
  const init = as.run(path.join(as.binDir, 'initdb'), [
    ...['-D', data, '-U', user, '--pwfile', pwfile, '--auth=scram-sha-256'],
    ...['-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'],
  ]);
  if (init.status !== 0) fail('initdb', init);
  rmSync(pwfile);

  // fsync and full_page_writes stay off (the machine does not crash, only the server); a
  // crash-safe server keeps synchronous_commit on, else a commit acknowledged just before
  // `pg_ctl stop -m immediate` is lost.
  const settings: Record<string, string | number> = {
    listen_addresses: (options.listen ?? ['127.0.0.1']).join(','),
    port,
    unix_socket_directories: dir,
    fsync: 'off',
    full_page_writes: 'off',
    ...(options.crashSafe ? {} : { synchronous_commit: 'off' }),
  };
  if (options.tls) {
    const tlsDir = path.join(dir, 'tls');
    mkdirSync(tlsDir);
    as.own(tlsDir);
    for (const [name, from] of Object.entries(options.tls)) {
      const to = path.join(tlsDir, `${name}.pem`);
      copyFileSync(from, to);
      chmodSync(to, 0o600);
      as.own(to);
    }
    Object.assign(settings, {
      ssl: 'on',
      ssl_cert_file: path.join(tlsDir, 'cert.pem'),
      ssl_key_file: path.join(tlsDir, 'key.pem'),
      ssl_ca_file: path.join(tlsDir, 'ca.pem'),
    });
  }
  appendFileSync(
    path.join(data, 'postgresql.conf'),
    `\n# a throwaway test server (test/lib/postgres.ts)\n${confLines({ ...settings, ...options.settings })}`,
  );
  if (options.hba) {
    writeFileSync(path.join(data, 'pg_hba.conf'), options.hba.join('\n') + '\n');
    as.own(path.join(data, 'pg_hba.conf'));
  }

  const startArgs = ['-l', logFile, '-w', '-t', '60', 'start'];
  const start = pgCtl(startArgs);
  if (start.status !== 0) fail('pg_ctl start', start);

  const halt = (mode: ShutdownMode) => {
    const r = pgCtl(['-m', mode, '-w', '-t', '60', 'stop']);
    if (r.status !== 0) throw new Error(`pg_ctl stop -m ${mode} failed: ${r.stderr || r.stdout}`);
  };
  const resume = () => {
    const r = pgCtl(startArgs);
    if (r.status !== 0) throw new Error(`pg_ctl start (again) failed: ${r.stderr || r.stdout}\n${logTail()}`);
  };
  const stop = (mode: ShutdownMode = 'immediate') => {
    const r = pgCtl(['-m', mode, '-w', 'stop']);
    const pidFile = path.join(data, 'postmaster.pid');
    if (r.status !== 0 && existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      try {
        process.kill(pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      } catch {
        /* already gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  // Over the Unix socket: a TLS-only server refuses plain TCP.
  const c = new pg.Client({ host: dir, port, user, password, database: 'postgres' });
  try {
    await c.connect();
    const r = await c.query<{ v: string; full: string }>(
      "SELECT current_setting('server_version') AS v, version() AS full",
    );
    for (const sql of options.initSql ?? []) await c.query(sql);
    const host = '127.0.0.1';
    return {
      host,
      port,
      user,
      password,
      version: r.rows[0]?.v.split(' ')[0] ?? '',
      versionFull: r.rows[0]?.full ?? '',
      startMs: Math.round(performance.now() - t0),
      binDir: as.binDir,
      dir,
      env: { PGHOST: host, PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'postgres' },
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
