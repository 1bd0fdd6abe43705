// The bench's throwaway PostgreSQL (the migrator tests' global setup, which starts
// it with test/lib/postgres.ts: Debian's server in a temp dir, fsync off, on
// 127.0.0.1) and the pg_dump the migrator image uses (PostgreSQL 18's client,
// scripts/postgres-versions.sh), so `migrator backup` and bare pg_dump run the same binary.
import { existsSync } from 'node:fs';
import path from 'node:path';
import postgresSetup from '../../test/setup/postgres-setup.js';
import postgresTeardown from '../../test/setup/postgres-teardown.js';
import { run } from './proc.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Pg {
  /** PG* of the superuser, for children. */
  env: NodeJS.ProcessEnv;
  serverVersion: string;
  clientBin: string;
  stop(): Promise<void>;
}

/** PostgreSQL 18's pg_dump/pg_restore/psql (cached; fetched on first use), else the host's. */
export function clientBinDir(): string {
  if (process.env.PG_CLIENT_BIN_DIR) return process.env.PG_CLIENT_BIN_DIR;
  const bin = run('bash', [path.join(ROOT, 'scripts/postgres-versions.sh'), 'client']).stdout.trim();
  if (!existsSync(path.join(bin, 'pg_dump'))) throw new Error(`no pg_dump in ${bin}`);
  return bin;
}

export async function startPostgres(): Promise<Pg> {
  await postgresSetup();
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGSSLMODE']) env[k] = process.env[k];
  const clientBin = clientBinDir();
  const pg: Pg = {
    env,
    clientBin,
    serverVersion: '',
    stop: () => postgresTeardown(),
  };
  pg.serverVersion = psql(pg, 'postgres', 'SHOW server_version').trim();
  return pg;
}

export function psql(pg: Pg, db: string, sql: string): string {
  return run(
    path.join(pg.clientBin, 'psql'),
    ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql],
    {
      env: pg.env,
    },
  ).stdout;
}

export function recreateDb(pg: Pg, db: string, template?: string): void {
  psql(pg, 'postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  psql(pg, 'postgres', `CREATE DATABASE ${db}${template ? ` TEMPLATE ${template}` : ''}`);
}

/**
 * The migrator in the form the image runs: the bundle with its compile cache
 * (npm run build:bundle, which npm run bench does), else tsc's output (npm run build).
 */
export function migratorArgs(): string[] {
  const bundle = path.join(ROOT, 'dist/bundle/migrator/start.mjs');
  if (existsSync(bundle)) return [bundle];
  const main = path.join(ROOT, 'dist/migrator-image/src/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: npm run build (npm run bench does)`);
  return [main];
}

export const NODE = process.execPath;

/** The environment of a bench migrator run on `db`: the generated plan in `dir`, transaction mode each. */
export function migratorEnv(pg: Pg, db: string, dir: string, resultPath: string): NodeJS.ProcessEnv {
  return {
    ...pg.env,
    PGDATABASE: db,
    MIGRATIONS_DIR: dir,
    TRANSACTION_MODE: 'each',
    RESULT_PATH: resultPath,
    LOG_LEVEL: 'warn',
    PG_CLIENT_BIN_DIR: pg.clientBin,
  };
}
