// A throwaway PostgreSQL that speaks TLS only, with a certificate from a test CA
// made here with openssl: for verify-ca / verify-full and client certificates.
// Plain-text connections are refused (pg_hba hostnossl reject), so a test that
// connects has proven TLS; a wrong CA or host name must fail.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, isIP } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TlsPostgres {
  port: number;
  /** The superuser (password authentication over TLS). */
  user: string;
  password: string;
  /** A role that may log in only with a client certificate (CN = role name). */
  certUser: string;
  caFile: string;
  /** A CA that signed nothing this server presents. */
  otherCaFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  dir: string;
  stop: () => void;
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, and `names` (DNS names and IP addresses) on a server certificate it signs, plus a client certificate for `certUser`. */
export function makeCertificates(dir: string, names: string[], certUser: string): void {
  for (const ca of ['ca', 'other-ca'])
    openssl(
      dir,
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=dbm test ${ca}`,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.crt`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  const sign = (name: string, subject: string, ext: string) => {
    openssl(
      dir,
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    );
  };
  sign(
    'server',
    `/CN=${names[0]}`,
    `subjectAltName=${names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  sign('client', `/CN=${certUser}`, 'extendedKeyUsage=clientAuth\n');
  for (const f of ['server.key', 'client.key', 'ca.key', 'other-ca.key']) chmodSync(path.join(dir, f), 0o600);
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

function defaultBin(): string {
  if (process.env.DBM_TEST_PG_BIN) return process.env.DBM_TEST_PG_BIN;
  const root = '/usr/lib/postgresql';
  const newest = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined;
  if (!newest) throw new Error('PostgreSQL is not installed: run `bash scripts/install-system-deps.sh`');
  return path.join(root, newest, 'bin');
}

export interface TlsPostgresOptions {
  /** DNS names and IP addresses on the server certificate (default: localhost). */
  names?: string[];
  /** Addresses to listen on (default: 127.0.0.1). */
  listen?: string[];
  /** Client network allowed with TLS (default: 127.0.0.1/32). */
  clients?: string;
}

/** Starts the server with a certificate for `names`; it accepts TLS connections only. */
export async function startTlsPostgres(options: TlsPostgresOptions = {}): Promise<TlsPostgres> {
  const names = options.names ?? ['localhost'];
  const listen = options.listen ?? ['127.0.0.1'];
  const clients = options.clients ?? '127.0.0.1/32';
  const bin = defaultBin();
  const dir = mkdtempSync(path.join(tmpdir(), 'dbm-tls-pg-'));
  const certs = path.join(dir, 'certs');
  const data = path.join(dir, 'data');
  execFileSync('mkdir', ['-p', certs]);
  const certUser = 'cert_migrator';
  makeCertificates(certs, names, certUser);
  const user = 'dbm_admin';
  const password = randomBytes(12).toString('hex');
  const asRoot = process.getuid?.() === 0;
  let run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    // The server reads its key as postgres (0600, its own); the client files stay ours.
    for (const f of ['', 'certs', 'certs/server.key', 'certs/server.crt', 'certs/ca.crt'])
      chownSync(path.join(dir, f), uid, gid);
    run = (cmd, args) => spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' });
  }
  chmodSync(dir, 0o755);
  chmodSync(certs, 0o755);
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, password + '\n', { mode: 0o644 });
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
  rmSync(pwfile);
  writeFileSync(
    path.join(data, 'pg_hba.conf'),
    [
      'local all all trust',
      `hostssl all ${certUser} ${clients} cert`,
      `hostssl all all ${clients} scram-sha-256`,
      'hostnossl all all 0.0.0.0/0 reject',
    ].join('\n') + '\n',
  );
  const port = await freePort();
  const opts = [
    `-c listen_addresses=${listen.join(',')}`,
    `-p ${port}`,
    `-k ${dir}`,
    '-c fsync=off',
    '-c ssl=on',
    `-c ssl_cert_file=${certs}/server.crt`,
    `-c ssl_key_file=${certs}/server.key`,
    `-c ssl_ca_file=${certs}/ca.crt`,
  ].join(' ');
  const logFile = path.join(dir, 'postgres.log');
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
    let tail = '';
    try {
      tail = readFileSync(logFile, 'utf8').slice(-2000);
    } catch {
      /* no log yet */
    }
    throw new Error(`TLS PostgreSQL did not start: ${start.stderr || start.stdout}\n${tail}`);
  }
  const psql = run(path.join(bin, 'psql'), [
    '-h',
    dir,
    '-p',
    String(port),
    '-U',
    user,
    '-d',
    'postgres',
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    `CREATE ROLE ${certUser} LOGIN CREATEDB`,
  ]);
  if (psql.status !== 0) throw new Error(`could not create ${certUser}: ${psql.stderr}`);
  return {
    port,
    user,
    password,
    certUser,
    caFile: path.join(certs, 'ca.crt'),
    otherCaFile: path.join(certs, 'other-ca.crt'),
    clientCertFile: path.join(certs, 'client.crt'),
    clientKeyFile: path.join(certs, 'client.key'),
    dir,
    stop: () => {
      run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
