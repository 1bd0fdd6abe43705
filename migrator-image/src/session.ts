// What migrate/revert/check/verify share: loaded migrations, a pg connection
// (holding the advisory lock when asked), the DataSource, and the history table.
import { MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import { requireSet, type Config } from './config.js';
import { dataSourceFor } from './datasource.js';
import { acquireLock, connect, qualified } from './db.js';
import { loadEntities, loadMigrations, type LoadedMigration } from './loader.js';
import { log } from './log.js';

export interface Session {
  cfg: Config;
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
  const entities = cfg.ENTITIES_DIR ? await loadEntities(cfg.ENTITIES_DIR) : [];
  if (cfg.ENTITIES_DIR) log.info({ count: entities.length, dir: cfg.ENTITIES_DIR }, 'entities loaded');
  // This probe connection only settles PGSSLMODE=prefer (like libpq) before the pool opens.
  const { client, ssl, serverVersionNum } = await connect(cfg);
  await client.end().catch(() => undefined);
  let unlock: (() => Promise<void>) | undefined;
  let ds: DataSource | undefined;
  try {
    ds = dataSourceFor(
      cfg,
      ssl,
      loaded.map((m) => m.cls),
      entities,
      serverVersionNum,
    );
    await ds.initialize();
    const qr = ds.createQueryRunner();
    await qr.connect();
    // The lock lives on the connection MigrationExecutor runs the migrations on:
    // if that session dies, the lock goes with it and no statement outlives it.
    if (opts.lock)
      unlock = await acquireLock(
        async (sql, params) => (await qr.query(sql, params)) as Array<Record<string, unknown>>,
        cfg,
      );
    const dsRef = ds;
    return {
      cfg,
      ds,
      qr,
      loaded,
      byName: new Map(loaded.map((m) => [m.name, m])),
      close: async () => {
        if (unlock) await unlock();
        await qr.release().catch(() => undefined);
        await dsRef.destroy().catch(() => undefined);
      },
    };
  } catch (err) {
    if (unlock) await unlock();
    if (ds?.isInitialized) await ds.destroy().catch(() => undefined);
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

/**
 * up/down: a migration applied or reverted (written in the same transaction as
 * its row in the migrations table when there is one). started: written and
 * committed before a migration that runs outside a transaction, so a process
 * that dies inside it leaves a record that it may be half-applied.
 */
export type HistoryDirection = 'up' | 'down' | 'started' | 'reverting';

export const HISTORY_COLUMNS = [
  'id',
  'name',
  'checksum',
  'direction',
  'applied_at',
  'applied_by',
  'duration_ms',
  'transaction_mode',
] as const;

/** Idempotent DDL of the history table (restore runs it too, inside its transaction). */
export function historyTableDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    checksum text,
    direction text NOT NULL CHECK (direction IN ('up', 'down', 'started', 'reverting')),
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text,
    duration_ms integer,
    transaction_mode text
  )`;
}

/**
 * Widens the direction CHECK of a history table made before 'started' existed
 * (idempotent, one statement: restore runs it inside its transaction too).
 */
export function historyTableUpgrade(table: string): string {
  const lit = `'${table.replace(/'/g, "''")}'`;
  return `DO $dbm$ DECLARE c text; BEGIN
    SELECT conname INTO c FROM pg_constraint
     WHERE conrelid = ${lit}::regclass AND contype = 'c'
       AND pg_get_constraintdef(oid) LIKE '%direction%' AND pg_get_constraintdef(oid) NOT LIKE '%reverting%';
    IF c IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', ${lit}, c);
      EXECUTE format('ALTER TABLE %s ADD CHECK (direction IN (''up'', ''down'', ''started'', ''reverting''))', ${lit});
    END IF;
  END $dbm$`;
}

export async function ensureHistoryTable(s: Session): Promise<void> {
  await s.qr.query(historyTableDdl(historyTable(s.cfg)));
  await s.qr.query(historyTableUpgrade(historyTable(s.cfg)));
}

export async function recordHistory(
  qr: QueryRunner,
  cfg: Config,
  row: { name: string; checksum?: string; direction: HistoryDirection; durationMs: number },
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

/** The newest history row of each migration (what migrate or revert last recorded), if the table exists. */
/** Who applied each migration: the run identity (applied_by) of its newest `up` history row. */
export async function appliedByOf(s: Session): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const [{ reg } = { reg: null }] = (await s.qr.query(`SELECT to_regclass($1) AS reg`, [
    historyTable(s.cfg),
  ])) as Array<{ reg: string | null }>;
  if (!reg) return out;
  const rows = (await s.qr.query(
    `SELECT DISTINCT ON (name) name, applied_by AS by FROM ${historyTable(s.cfg)} WHERE direction = 'up' ORDER BY name, id DESC`,
  )) as Array<{ name: string; by: string | null }>;
  for (const r of rows) out.set(r.name, r.by);
  return out;
}

/** The newest history row of a migration: what happened last, when, and which run did it (MIGRATION_AUTHOR). */
export interface LatestHistory {
  direction: HistoryDirection;
  checksum: string | null;
  at: string;
  by: string | null;
}

export async function latestHistory(s: Session): Promise<Map<string, LatestHistory>> {
  const out = new Map<string, LatestHistory>();
  const [{ reg } = { reg: null }] = (await s.qr.query(`SELECT to_regclass($1) AS reg`, [
    historyTable(s.cfg),
  ])) as Array<{ reg: string | null }>;
  if (!reg) return out;
  const rows = (await s.qr.query(
    `SELECT DISTINCT ON (name) name, checksum, direction, applied_at::text AS at, applied_by AS by FROM ${historyTable(s.cfg)} ORDER BY name, id DESC`,
  )) as Array<{
    name: string;
    checksum: string | null;
    direction: HistoryDirection;
    at: string;
    by: string | null;
  }>;
  for (const r of rows) out.set(r.name, { direction: r.direction, checksum: r.checksum, at: r.at, by: r.by });
  return out;
}
