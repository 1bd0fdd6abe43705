// Jest globalSetup of the migrator project: a throwaway PostgreSQL (Debian's
// packages, or PG_BIN_DIR) started by test/lib/postgres.ts, on 127.0.0.1 and a
// free port, with a password-authenticated superuser. Exports PG* for the test
// workers. Fails loudly when PostgreSQL cannot start: the migrator tests never skip.
// The bench starts its server with this function too (bench/lib/postgres.ts).
import { debianBinDir, startServer, type Server } from '../lib/postgres.ts';

/** Where postgresTeardown finds the server: jest runs both hooks in one process, as does the bench. */
export const running = globalThis as { dbmMigratorPostgres?: Server };

export default async function postgresSetup(): Promise<void> {
  const bin = process.env.PG_BIN_DIR || debianBinDir();
  const server = await startServer({ bin, prefix: 'dbmigrate-pg-', settings: { max_connections: 200 } });
  running.dbmMigratorPostgres = server;
  Object.assign(process.env, { ...server.env, PGSSLMODE: 'disable', DBM_TEST_PG_BIN: bin });
}
