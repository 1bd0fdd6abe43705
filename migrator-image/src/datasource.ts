// The TypeORM DataSource the migrations run on: apart from db.ts so that only
// the commands that run migrations load TypeORM (a large module graph).
import type { TlsOptions } from 'node:tls';
import { DataSource, type MigrationInterface } from 'typeorm';
import type { Config } from './config.js';
import { APP_NAME, sessionOptions, type SslOption } from './db.js';

export function dataSourceFor(
  cfg: Config,
  ssl: SslOption,
  migrations: Array<new () => MigrationInterface>,
  entities: Array<string | (new () => unknown)> = [],
  serverVersionNum = 0,
): DataSource {
  return new DataSource({
    type: 'postgres',
    host: cfg.PGHOST,
    port: cfg.PGPORT,
    database: cfg.PGDATABASE,
    username: cfg.PGUSER,
    password: cfg.PGPASSWORD ?? '',
    ssl: ssl as boolean | TlsOptions,
    schema: cfg.MIGRATIONS_SCHEMA,
    migrations,
    entities,
    migrationsTableName: cfg.MIGRATIONS_TABLE,
    migrationsTransactionMode: cfg.TRANSACTION_MODE,
    migrationsRun: false,
    synchronize: false,
    logging: false,
    poolSize: 2,
    applicationName: APP_NAME,
    connectTimeoutMS: cfg.PGCONNECT_TIMEOUT * 1000,
    extra: { options: sessionOptions(cfg, serverVersionNum) },
  });
}
