// A throwaway PostgreSQL server for the check: a copy of the data directory
// the image prepared at build time (else initdb) in a temp dir (an emptyDir in the Pod), listening only on a Unix socket in that dir, with
// durability off (nothing here must survive). The check applies the pending
// migrations there for real, so migration SQL never runs on the target.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '../log.js';
import { MigratorError } from '../result.js';

export interface ShadowServer {
  /** The socket directory: pg's `host` for a Unix-socket connection. */
  host: string;
  port: number;
  user: string;
  /** Set for an external server; the local one trusts its socket. */
  password?: string;
  sslMode?: 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full' | 'no-verify';
  /** The database to use: the maintenance `postgres` of a local server, a fresh one on an external server. */
  database: string;
  /** An external server (spec.check.shadow): its cluster-wide objects are not ours to create freely. */
  external?: boolean;
  binDir: string;
  major: number;
  stop: () => Promise<void>;
  /** A local server: whether its data directory was copied from the template or made by initdb. */
  dataDir?: 'template' | 'initdb';
  /** A local server: ms from the call to a server accepting connections. */
  startMs?: number;
}

const ROOT = '/usr/lib/postgresql';

/** Server majors installed the Debian way (/usr/lib/postgresql/N/bin/postgres), ascending. */
export function installedMajors(root = ROOT): number[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres')))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The server binaries for a target of major `target`: the same major when
 * installed, else the nearest newer one (a schema dump restores into a newer
 * server, never into an older one). `explicit` (SHADOW_PG_BIN_DIR) wins.
 */
export function chooseBinDir(target: number, explicit?: string, root = ROOT): string {
  if (explicit) {
    if (!existsSync(join(explicit, 'postgres')))
      throw new MigratorError(`SHADOW_PG_BIN_DIR=${explicit} holds no postgres binary`);
    return explicit;
  }
  const majors = installedMajors(root);
  const pick = majors.find((m) => m === target) ?? majors.find((m) => m > target);
  if (pick === undefined)
    throw new MigratorError(
      majors.length === 0
        ? `no PostgreSQL server binaries for the shadow database (none under ${root}): set SHADOW_PG_BIN_DIR, or spec.check.shadow to an external shadow database`
        : `the target runs PostgreSQL ${target} but the shadow server binaries are ${majors.join(', ')}: a schema cannot be restored into an older server; set spec.check.shadow to an external shadow database`,
    );
  return join(root, String(pick), 'bin');
}

function binMajor(binDir: string): number {
  const out = execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  const m = /(\d+)(?:\.\d+)?/.exec(out.replace(/^[^)]*\)/, ''));
  return m ? Number(m[1]) : 0;
}

/** initdb and postgres refuse to run as root: as root (tests on a host), run them as `postgres`. */
function runAs(): { uid: number; gid: number; user: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const user = process.env.SHADOW_OS_USER || 'postgres';
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { uid, gid, user };
  } catch {
    throw new MigratorError(`running as root, the shadow server needs an OS user "${user}" to run as`);
  }
}

function run(cmd: string, args: string[], as: ReturnType<typeof runAs>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(as ? { uid: as.uid, gid: as.gid } : {}),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new MigratorError(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8');
      if (code === 0) resolve(text);
      else
        reject(
          new MigratorError(
            `shadow server: ${cmd.split('/').pop()} failed (exit ${code}): ${text.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
    });
  });
}

const stopping = new Set<() => Promise<void>>();
/** Stops every shadow server still running (the signal handler's last act). */
export async function stopAllShadows(): Promise<void> {
  await Promise.all([...stopping].map((s) => s().catch(() => undefined)));
}

/** initdb's options for the shadow; migrator-image/Dockerfile prepares its template with the same ones. */
const SHADOW_USER = 'shadow';
const initdbArgs = (data: string) => [
  '-D',
  data,
  '-U',
  SHADOW_USER,
  '--auth=trust',
  '--encoding=UTF8',
  '--no-sync',
  '--locale=C',
];

/** A data directory to copy instead of running initdb (the image's SHADOW_TEMPLATE_DIR); for tests too. */
export async function initTemplate(binDir: string, dir: string): Promise<void> {
  const as = runAs();
  await run(join(binDir, 'initdb'), initdbArgs(dir), as, 120_000);
}

/** The template when it is a data directory of `major` (its PG_VERSION); undefined otherwise. */
export function usableTemplate(template: string | undefined, major: number): string | undefined {
  if (!template) return undefined;
  try {
    return readFileSync(join(template, 'PG_VERSION'), 'utf8').trim() === String(major) ? template : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The data directory: a copy of the template prepared at image build time
 * (SHADOW_TEMPLATE_DIR, same initdb options) when it is of the binaries'
 * major, else initdb (about a second). 0700, owned by the server's user.
 */
async function makeDataDir(
  binDir: string,
  data: string,
  as: ReturnType<typeof runAs>,
  template: string | undefined,
): Promise<'template' | 'initdb'> {
  const from = template ? usableTemplate(template, binMajor(binDir)) : undefined;
  if (from) {
    try {
      await run('cp', ['-R', '--preserve=mode,timestamps', from, data], as, 60_000);
      await run('chmod', ['0700', data], as, 10_000);
      return 'template';
    } catch (err) {
      rmSync(data, { recursive: true, force: true });
      log.warn({ err: (err as Error).message, template: from }, 'shadow template not copied: initdb instead');
    }
  }
  await run(join(binDir, 'initdb'), initdbArgs(data), as, 120_000);
  return 'initdb';
}

export async function startShadow(opts: {
  binDir: string;
  parentDir?: string;
  /** Default: SHADOW_TEMPLATE_DIR. */
  template?: string;
}): Promise<ShadowServer> {
  const t0 = performance.now();
  const as = runAs();
  const dir = mkdtempSync(join(opts.parentDir ?? tmpdir(), 'dbm-shadow-'));
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, 'data');
  const user = SHADOW_USER;
  const bin = (t: string) => join(opts.binDir, t);
  const made = await makeDataDir(opts.binDir, data, as, opts.template ?? process.env.SHADOW_TEMPLATE_DIR);
  // A port number only names the socket file (no TCP listener); any free-looking value works.
  const port = 5432;
  const settings = [
    `listen_addresses=''`,
    `unix_socket_directories='${dir}'`,
    `port=${port}`,
    'fsync=off',
    'synchronous_commit=off',
    'full_page_writes=off',
    'autovacuum=off',
    'max_connections=20',
    'shared_buffers=16MB',
    'max_locks_per_transaction=1024',
  ];
  await run(
    bin('pg_ctl'),
    [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      settings.map((s) => `-c ${s}`).join(' '),
      'start',
    ],
    as,
    90_000,
  ).catch((err: unknown) => {
    const logText = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : '';
    throw new MigratorError(`${(err as Error).message} ${logText.trim().split('\n').slice(-2).join(' | ')}`);
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    stopping.delete(stop);
    await run(bin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], as, 30_000).catch(
      () => undefined,
    );
    rmSync(dir, { recursive: true, force: true });
  };
  stopping.add(stop);
  const major = binMajor(opts.binDir);
  const startMs = Math.round(performance.now() - t0);
  log.info({ dataDir: made, startMs }, 'shadow server started');
  return {
    host: dir,
    port,
    user,
    database: 'postgres',
    binDir: opts.binDir,
    major,
    stop,
    dataDir: made,
    startMs,
  };
}
