// A throwaway PostgreSQL that speaks TLS only, with a certificate from a test CA
// made here with openssl: for verify-ca / verify-full and client certificates.
// Plain-text connections are refused (pg_hba hostnossl reject), so a test that
// connects has proven TLS; a wrong CA or host name must fail.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { debianBinDir, startServer, type Server } from '../lib/postgres.js';

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
  /** The certificates and keys (the server runs from copies in its own directory). */
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

export interface TlsPostgresOptions {
  /** DNS names and IP addresses on the server certificate (default: localhost). */
  names?: string[];
  /** Addresses to listen on (default: 127.0.0.1). */
  listen?: string[];
  /** Client network allowed with TLS (default: 127.0.0.1/32). */
  clients?: string;
}

/** Starts the server (test/lib/postgres.ts) with a certificate for `names`; it accepts TLS connections only. */
export async function startTlsPostgres(options: TlsPostgresOptions = {}): Promise<TlsPostgres> {
  const clients = options.clients ?? '127.0.0.1/32';
  const certs = mkdtempSync(path.join(tmpdir(), 'dbm-tls-certs-'));
  const certUser = 'cert_migrator';
  let server: Server;
  try {
    makeCertificates(certs, options.names ?? ['localhost'], certUser);
    server = await startServer({
      bin: process.env.DBM_TEST_PG_BIN || debianBinDir(),
      prefix: 'dbm-tls-pg-',
      password: randomBytes(12).toString('hex'),
      listen: options.listen ?? ['127.0.0.1'],
      tls: {
        cert: path.join(certs, 'server.crt'),
        key: path.join(certs, 'server.key'),
        ca: path.join(certs, 'ca.crt'),
      },
      hba: [
        'local all all trust',
        `hostssl all ${certUser} ${clients} cert`,
        `hostssl all all ${clients} scram-sha-256`,
        'hostnossl all all 0.0.0.0/0 reject',
      ],
      initSql: [`CREATE ROLE ${certUser} LOGIN CREATEDB`],
    });
  } catch (err) {
    rmSync(certs, { recursive: true, force: true });
    throw err;
  }
  return {
    port: server.port,
    user: server.user,
    password: server.password,
    certUser,
    caFile: path.join(certs, 'ca.crt'),
    otherCaFile: path.join(certs, 'other-ca.crt'),
    clientCertFile: path.join(certs, 'client.crt'),
    clientKeyFile: path.join(certs, 'client.key'),
    dir: certs,
    stop: () => {
      server.stop();
      rmSync(certs, { recursive: true, force: true });
    },
  };
}
