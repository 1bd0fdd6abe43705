// Jest globalTeardown of the migrator project: stops the throwaway PostgreSQL
// of postgres-setup.ts and removes its directory.
import { running } from './postgres-setup.ts';

export default async function postgresTeardown(): Promise<void> {
  const server = running.dbmMigratorPostgres;
  delete running.dbmMigratorPostgres;
  server?.stop('fast');
}
