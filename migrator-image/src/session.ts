// What migrate/revert/check/verify share: loaded migrations, a pg connection
// (holding the advisory lock when asked), the DataSource, and the history table.
import type pg from 'pg';
import { MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import { requireSet, type Config } from './config.js';
import { acquireLock, applyTimeouts, connect, dataSourceFor, qualified } from './db.js';
import { loadMigrations, type LoadedMigration } from './loader.js';
import { log } from './log.js';

export interface Session {
  cfg: Config;
  client: pg.Client;
  ds: DataSource;
  qr: QueryRunner;
  loaded: LoadedMigration[];
  byName: Map<string, LoadedMigration>;
  close: () => Promise<void>;
}

export async function openSession(cfg: Config, opts: { lock: boolean }): Promise<Session> {
  const dir = requireSet(cfg, 'MIGRATIONS_DIR', 'for this command');
  const loaded = await loadMigrations(dir);
  log.info({ count: loaded.length, dir }, 'migrations loaded');
  const { client, ssl } = await connect(cfg);
  let unlock: (() => Promise<void>) | undefined;
  let ds: DataSource | undefined;
  try {
    if (opts.lock) unlock = await acquireLock(client, cfg);
    ds = dataSourceFor(
      cfg,
      ssl,
      loaded.map((m) => m.cls),
    );
    await ds.initialize();
    const qr = ds.createQueryRunner();
    await qr.connect();
    await applyTimeouts((sql) => qr.query(sql), cfg);
    const dsRef = ds;
    return {
      cfg,
      client,
      ds,
      qr,
      loaded,
      byName: new Map(loaded.map((m) => [m.name, m])),
      close: async () => {
        await qr.release().catch(() => undefined);
        await dsRef.destroy().catch(() => undefined);
        if (unlock) await unlock();
        await client.end().catch(() => undefined);
      },
    };
  } catch (err) {
    if (ds?.isInitialized) await ds.destroy().catch(() => undefined);
    if (unlock) await unlock();
    await client.end().catch(() => undefined);
    throw err;
  }
}

export function executorFor(s: Session): MigrationExecutor {
  const ex = new MigrationExecutor(s.ds, s.qr);
  ex.transaction = s.cfg.TRANSACTION_MODE;
  return ex;
}

export function historyTable(cfg: Config): string {
  return qualified(cfg, cfg.HISTORY_TABLE);
}

export function migrationsTable(cfg: Config): string {
  return qualified(cfg, cfg.MIGRATIONS_TABLE);
}

export async function ensureHistoryTable(s: Session): Promise<void> {
  await s.qr.query(`CREATE TABLE IF NOT EXISTS ${historyTable(s.cfg)} (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    checksum text,
    direction text NOT NULL CHECK (direction IN ('up', 'down')),
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text,
    duration_ms integer,
    transaction_mode text
  )`);
}

export async function recordHistory(
  qr: QueryRunner,
  cfg: Config,
  row: { name: string; checksum?: string; direction: 'up' | 'down'; durationMs: number },
): Promise<void> {
  await qr.query(
    `INSERT INTO ${historyTable(cfg)} (name, checksum, direction, applied_by, duration_ms, transaction_mode) VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      row.name,
      row.checksum ?? null,
      row.direction,
      cfg.MIGRATION_AUTHOR,
      Math.round(row.durationMs),
      cfg.TRANSACTION_MODE,
    ],
  );
}
