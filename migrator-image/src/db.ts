// Connections: a probe/lock connection (pg) and the session-level advisory lock
// that serializes migrator runs per database. The TypeORM DataSource is in
// datasource.ts, so the commands that never run a migration (backup, restore,
// verify) and the start-up do not load TypeORM.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { Config } from './config.js';
import { log } from './log.js';
import { MigratorError } from './result.js';
import { throwIfTerminating } from './shutdown.js';

/**
 * The application_name of every connection this process opens (its pg clients,
 * TypeORM's pool and the pg_dump/pg_restore children): unique per process, so a
 * SIGTERM can find and cancel exactly our own backends in pg_stat_activity.
 */
export const APP_NAME = `dbmigrate-migrator-${process.pid}-${randomBytes(4).toString('hex')}`;

export type SslOption = false | ConnectionOptions;

export function sslFor(mode: Config['PGSSLMODE'], env: NodeJS.ProcessEnv = process.env): SslOption {
  // libpq: require with a root certificate verifies the chain, as verify-ca (pg_dump and
  // pg_restore do so with the same PGSSLROOTCERT): the migrator's own connections too.
  if (mode === 'require' && env.PGSSLROOTCERT) return sslFor('verify-ca', env);
  let opts: ConnectionOptions;
  switch (mode) {
    case 'disable':
    case 'allow':
      return false;
    case 'prefer':
    case 'require':
    case 'no-verify':
      opts = { rejectUnauthorized: false };
      break;
    case 'verify-ca':
    case 'verify-full': {
      opts = { rejectUnauthorized: true };
      // libpq's files, which pg_dump/pg_restore read too (pgtools passes them on).
      const ca = env.PGSSLROOTCERT;
      if (ca) opts.ca = readTlsFile(ca, 'PGSSLROOTCERT');
      // verify-ca: the chain must lead to the CA; the host name need not be on the certificate.
      if (mode === 'verify-ca') opts.checkServerIdentity = () => undefined;
      break;
    }
  }
  // A client certificate authenticates in any mode that speaks TLS, as with libpq.
  if (env.PGSSLCERT && env.PGSSLKEY) {
    opts.cert = readTlsFile(env.PGSSLCERT, 'PGSSLCERT');
    opts.key = readTlsFile(env.PGSSLKEY, 'PGSSLKEY');
  }
  return opts;
}

/** Reads a certificate file named by a PGSSL* variable; the error names the variable and the path, never the content. */
function readTlsFile(file: string, variable: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new MigratorError(
      `cannot read ${variable} (${file}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

function clientConfig(cfg: Config, ssl: SslOption): pg.ClientConfig {
  return {
    host: cfg.PGHOST,
    port: cfg.PGPORT,
    database: cfg.PGDATABASE,
    user: cfg.PGUSER,
    password: cfg.PGPASSWORD ?? '',
    ssl,
    connectionTimeoutMillis: cfg.PGCONNECT_TIMEOUT * 1000,
    application_name: APP_NAME,
  };
}

/** Opens a pg connection honouring PGSSLMODE (prefer falls back to plain text like libpq). */
export async function connect(
  cfg: Config,
): Promise<{ client: pg.Client; ssl: SslOption; serverVersionNum: number }> {
  let ssl = sslFor(cfg.PGSSLMODE);
  let client = new pg.Client(clientConfig(cfg, ssl));
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    if (cfg.PGSSLMODE === 'prefer' && /does not support SSL/i.test(String((err as Error).message))) {
      ssl = false;
      client = new pg.Client(clientConfig(cfg, ssl));
      await client.connect();
    } else {
      throw tlsError(cfg, err);
    }
  }
  client.on('error', (e) => log.warn({ err: e.message }, 'lock connection error'));
  let serverVersionNum: number;
  try {
    serverVersionNum = Number(
      (await client.query<{ n: string }>("SELECT current_setting('server_version_num') AS n")).rows[0]?.n ??
        0,
    );
    if (checksClientConnection(serverVersionNum))
      await client.query(`SET client_connection_check_interval = '${CLIENT_CHECK_INTERVAL}'`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return { client, ssl, serverVersionNum };
}

/** Node's codes for a server certificate that does not verify. */
const TLS_VERIFY_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A certificate that does not verify, said in the terms of the spec a person can fix. */
export function tlsError(cfg: Config, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!code || !TLS_VERIFY_CODES.has(code)) return err;
  const ca = process.env.PGSSLROOTCERT
    ? `the CA bundle ${process.env.PGSSLROOTCERT} (spec.database.tls)`
    : "the system's CA store (no spec.database.tls CA bundle)";
  const what =
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? `the server certificate does not name the host ${cfg.PGHOST} (connect by a name on the certificate, or use sslMode verify-ca)`
      : `the server certificate does not verify against ${ca}`;
  return new MigratorError(`TLS (sslmode=${cfg.PGSSLMODE}): ${what}: ${code}: ${(err as Error).message}`);
}

/**
 * How often a backend running one of our statements checks that we are still
 * there. Without it a statement outlives a SIGKILLed migrator (OOM kill, node
 * crash, kubelet's SIGKILL after the grace period) until it finishes: it keeps
 * its locks and our advisory lock, so the retried Job waits or fails, and in
 * mode "none" the orphaned statement still commits after its process died.
 */
const CLIENT_CHECK_INTERVAL = '1s';

/** client_connection_check_interval exists from PostgreSQL 14; older servers reject it (even as a startup option). */
export function checksClientConnection(serverVersionNum: number): boolean {
  return serverVersionNum >= 140000;
}

export function quoteIdent(s: string): string {
  return '"' + s.replace(/"/g, '""') + '"';
}

export function qualified(cfg: Config, table: string): string {
  return cfg.MIGRATIONS_SCHEMA
    ? `${quoteIdent(cfg.MIGRATIONS_SCHEMA)}.${quoteIdent(table)}`
    : quoteIdent(table);
}

/** The advisory lock key: 64 bits of sha256 over the migrations table's name. */
export function lockKey(cfg: Config): string {
  const h = createHash('sha256')
    .update(`dbmigrate:${cfg.MIGRATIONS_SCHEMA ?? ''}.${cfg.MIGRATIONS_TABLE}`)
    .digest();
  return h.readBigInt64BE(0).toString();
}

/** Runs one statement and returns its rows: a pg.Client or a TypeORM QueryRunner behind it. */
export type RowQuery = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

export const pgRows =
  (client: pg.Client): RowQuery =>
  async (sql, params) =>
    (await client.query(sql, params)).rows as Array<Record<string, unknown>>;

/**
 * Polls pg_try_advisory_lock (session level) until it is ours or the wait runs
 * out. `query` must run on the connection that will run the migration SQL, so
 * no migration statement can outlive the lock (the lock dies with its session).
 */
export async function acquireLock(query: RowQuery, cfg: Config): Promise<() => Promise<void>> {
  const key = lockKey(cfg);
  const deadline = Date.now() + cfg.ADVISORY_LOCK_WAIT_SECONDS * 1000;
  let logged = false;
  for (;;) {
    throwIfTerminating();
    const r = await query('SELECT pg_try_advisory_lock($1::bigint) AS ok, pg_backend_pid() AS pid', [key]);
    if (r[0]?.ok) {
      await assertSessionKept(query, key, r[0].pid);
      break;
    }
    if (Date.now() >= deadline) {
      const holder = await query(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND ((classid::bigint << 32) | objid::bigint) = ($1::bigint & x'ffffffffffffffff'::bigint) LIMIT 1`,
        [key],
      )
        .then((x) => x[0]?.pid as number | undefined)
        .catch(() => undefined);
      throw new MigratorError(
        `could not take the migration lock within ${cfg.ADVISORY_LOCK_WAIT_SECONDS}s: another migrator run holds it${holder ? ` (backend pid ${holder})` : ''}`,
      );
    }
    if (!logged) {
      log.info({ key }, 'waiting for the migration advisory lock');
      logged = true;
    }
    await new Promise((r2) => setTimeout(r2, 500));
  }
  log.info({ key }, 'migration advisory lock acquired');
  return async () => {
    await query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
  };
}

export const POOLER_MESSAGE =
  'the connection does not keep its PostgreSQL session between statements: it goes through a transaction-mode pooler (e.g. PgBouncer pool_mode=transaction, a CloudNativePG Pooler of type rw in transaction mode). The migration lock is a session-level advisory lock and migrations need their session: connect the migrator to PostgreSQL directly (CloudNativePG: the <cluster>-rw Service) or through a session-mode pool';

/**
 * A session-level advisory lock guards nothing when each statement may run on
 * another server connection (a transaction-mode pooler): the lock would stay on
 * a backend the migration does not use. Right after taking it, the next
 * statement must run in the same backend and see the lock as its own.
 */
async function assertSessionKept(query: RowQuery, key: string, lockPid: unknown): Promise<void> {
  const r = await query(
    `SELECT pg_backend_pid() AS pid, EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
        AND pid = pg_backend_pid()
        AND ((classid::bigint << 32) | objid::bigint) = ($1::bigint & x'ffffffffffffffff'::bigint)) AS held`,
    [key],
  );
  if (r[0]?.pid === lockPid && r[0]?.held === true) return;
  // Best effort: the unlock may land on yet another backend; the pooler resets or closes it.
  await query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
  throw new MigratorError(POOLER_MESSAGE);
}

/**
 * Timeouts as libpq startup options, so they hold on every connection the pool
 * opens (a data migration using the query builder or dataSource.query runs on a
 * second pooled connection, which a one-off SET would not reach). 0 = none.
 */
export function sessionOptions(cfg: Config, serverVersionNum = 0): string {
  return [
    `-c lock_timeout=${cfg.LOCK_TIMEOUT_SECONDS}s`,
    `-c statement_timeout=${cfg.STATEMENT_TIMEOUT_SECONDS}s`,
    `-c idle_in_transaction_session_timeout=${cfg.IDLE_IN_TRANSACTION_TIMEOUT_SECONDS}s`,
    ...(checksClientConnection(serverVersionNum)
      ? [`-c client_connection_check_interval=${CLIENT_CHECK_INTERVAL}`]
      : []),
  ].join(' ');
}
