// Jest globalSetup of the migrator project: a throwaway PostgreSQL (Debian's
// packages) in a temp dir, on 127.0.0.1 and a free port, with a
// password-authenticated superuser. Exports PG* for the test workers.
// Fails loudly when PostgreSQL cannot start: the migrator tests never skip.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const STATE_FILE = path.join(tmpdir(), `dbmigrate-migrator-tests-pg-${process.pid}.json`);

function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  if (!existsSync(root))
    throw new Error('PostgreSQL is not installed: run `bash scripts/install-system-deps.sh`');
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0])
    throw new Error('no initdb under /usr/lib/postgresql: run `bash scripts/install-system-deps.sh`');
  return path.join(root, versions[0], 'bin');
}

async function freePort(): Promise<number> {
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

export default async function postgresSetup(): Promise<void> {
  const bin = pgBinDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'dbmigrate-pg-'));
  const data = path.join(dir, 'data');
  const password = randomBytes(12).toString('hex') + 'Aa1!';
  const user = 'dbm_admin';
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  let run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    run = (cmd, args) => spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' });
  }
  chmodSync(dir, 0o700);
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  if (asRoot) chownSync(pwfile, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), 0);

  const init = run(path.join(bin, 'initdb'), [
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
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const logFile = path.join(dir, 'postgres.log');
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = run(path.join(bin, 'pg_ctl'), [
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
  if (start.status !== 0) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
    throw new Error(`PostgreSQL did not start: ${start.stderr || start.stdout}\n${tail}`);
  }
  const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  Object.assign(process.env, {
    PGHOST: '127.0.0.1',
    PGPORT: String(port),
    PGUSER: user,
    PGPASSWORD: password,
    PGDATABASE: 'postgres',
    PGSSLMODE: 'disable',
    DBM_TEST_PG_BIN: bin,
  });
  writeFileSync(STATE_FILE, JSON.stringify({ dir, data, pid, bin, port, asRoot }));
}
