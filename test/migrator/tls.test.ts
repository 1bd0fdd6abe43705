// verify-full / verify-ca against a PostgreSQL serving a certificate from a test
// CA, the files named by PGSSLROOTCERT / PGSSLCERT / PGSSLKEY as the Job mounts
// them: the migrator's own connections (node-postgres, TypeORM) and its pg_dump
// children use them, and a certificate that does not verify fails clearly.
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { migrationsDir, runMigrator, tempDir } from './helpers.js';
import { startTlsPostgres, type TlsPostgres } from './tls-postgres.js';

const T = 180_000;
let server: TlsPostgres;

beforeAll(async () => {
  server = await startTlsPostgres({ names: ['localhost'] });
}, T);
afterAll(() => server?.stop());

async function admin<R>(fn: (c: pg.Client) => Promise<R>, database = 'postgres'): Promise<R> {
  const c = new pg.Client({
    host: 'localhost',
    port: server.port,
    user: server.user,
    password: server.password,
    database,
    ssl: { ca: readFileSync(server.caFile, 'utf8') },
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function newDatabase(owner?: string): Promise<string> {
  const name = `tls_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${owner ? ` OWNER ${owner}` : ''}`));
  return name;
}

/** The environment a Job with spec.database.tls gets, pointed at this server. */
function tlsEnv(database: string, extra: Record<string, string | undefined> = {}) {
  return {
    PGHOST: 'localhost',
    PGPORT: String(server.port),
    PGUSER: server.user,
    PGPASSWORD: server.password,
    PGDATABASE: database,
    PGSSLMODE: 'verify-full',
    PGSSLROOTCERT: server.caFile,
    ...extra,
  };
}

describe('migrator over verified TLS', () => {
  it(
    'verify-full with the CA bundle: migrates, and the pg_dump backup connects the same way',
    async () => {
      const db = await newDatabase();
      const env = {
        ...tlsEnv(db),
        MIGRATIONS_DIR: migrationsDir('base'),
        BACKUP_DIR: tempDir('tls-backups'),
      };
      const m = await runMigrator('migrate', env);
      expect(m.result.error).toBeUndefined();
      expect(m.code).toBe(0);
      expect(m.result.migrations?.length).toBe(4);
      const b = await runMigrator('backup', { ...env, BACKUP_ID: 'tls', BACKUP_VERIFY: 'false' });
      expect(b.result.error).toBeUndefined();
      expect(b.code).toBe(0);
      expect(b.result.backup?.sizeBytes).toBeGreaterThan(0);
      // The server refuses plain text (hostnossl reject): this succeeded over TLS.
      await expect(
        new pg.Client({
          host: '127.0.0.1',
          port: server.port,
          user: server.user,
          password: server.password,
          ssl: false,
        }).connect(),
      ).rejects.toThrow(/no encryption|pg_hba/);
    },
    T,
  );

  it(
    'a CA that did not sign the server certificate fails clearly, for the migrator and for pg_dump',
    async () => {
      const db = await newDatabase();
      const env = tlsEnv(db, { PGSSLROOTCERT: server.otherCaFile, MIGRATIONS_DIR: migrationsDir('base') });
      const m = await runMigrator('migrate', env);
      expect(m.code).not.toBe(0);
      const clearly =
        /^TLS \(sslmode=verify-full\): the server certificate does not verify against the CA bundle \S*other-ca\.crt \(spec\.database\.tls\): (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_\w+)/;
      expect(m.result.error?.message).toMatch(clearly);
      const b = await runMigrator('backup', { ...env, BACKUP_DIR: tempDir('tls-bad'), BACKUP_ID: 'bad' });
      expect(b.code).not.toBe(0);
      expect(b.result.error?.message).toMatch(clearly);
      expect(await admin((c) => c.query(`SELECT to_regclass('migrations') AS t`), db)).toMatchObject({
        rows: [{ t: null }],
      });
    },
    T,
  );

  it(
    'require encrypts without a CA bundle; with one it verifies the chain, as libpq (pg_dump) does',
    async () => {
      const db = await newDatabase();
      const bare = tlsEnv(db, {
        PGSSLMODE: 'require',
        PGSSLROOTCERT: undefined,
        MIGRATIONS_DIR: migrationsDir('base'),
      });
      const ok = await runMigrator('migrate', bare);
      expect(ok.result.error).toBeUndefined();
      expect(ok.code).toBe(0);
      const wrong = await runMigrator('verify', { ...bare, PGSSLROOTCERT: server.otherCaFile });
      expect(wrong.code).not.toBe(0);
      expect(wrong.result.error?.message).toMatch(
        /^TLS \(sslmode=require\): the server certificate does not verify/,
      );
    },
    T,
  );

  it(
    'verify-full refuses a host name the certificate does not carry; verify-ca accepts it',
    async () => {
      const db = await newDatabase();
      const env = tlsEnv(db, { PGHOST: '127.0.0.1', MIGRATIONS_DIR: migrationsDir('base') });
      const full = await runMigrator('migrate', env);
      expect(full.code).not.toBe(0);
      expect(full.result.error?.message).toMatch(
        /^TLS \(sslmode=verify-full\): the server certificate does not name the host 127\.0\.0\.1/,
      );
      const ca = await runMigrator('migrate', { ...env, PGSSLMODE: 'verify-ca' });
      expect(ca.result.error).toBeUndefined();
      expect(ca.code).toBe(0);
    },
    T,
  );

  it(
    'a client certificate (PGSSLCERT/PGSSLKEY) authenticates a role without a password, for the migrator and pg_dump',
    async () => {
      const db = await newDatabase(server.certUser);
      const env = tlsEnv(db, {
        PGUSER: server.certUser,
        PGPASSWORD: undefined,
        PGSSLCERT: server.clientCertFile,
        PGSSLKEY: server.clientKeyFile,
        MIGRATIONS_DIR: migrationsDir('base'),
        BACKUP_DIR: tempDir('tls-cert-backups'),
      });
      const m = await runMigrator('migrate', env);
      expect(m.result.error).toBeUndefined();
      expect(m.code).toBe(0);
      // A key file libpq would refuse (group/world readable, as a volume may mount it): pg_dump gets a private copy.
      chmodSync(server.clientKeyFile, 0o644);
      const b = await runMigrator('backup', { ...env, BACKUP_ID: 'cert', BACKUP_VERIFY: 'false' });
      expect(b.result.error).toBeUndefined();
      expect(b.code).toBe(0);
      // Without the certificate the same role cannot log in.
      const bare = await runMigrator('migrate', { ...env, PGSSLCERT: undefined, PGSSLKEY: undefined });
      expect(bare.code).not.toBe(0);
      expect(bare.result.error?.message).toMatch(/certificate/i);
    },
    T,
  );
});
