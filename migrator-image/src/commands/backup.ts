// backup: pg_dump (custom, or directory with -j) from a snapshot exported by a
// REPEATABLE READ transaction, so the per-table row counts and checksums
// recorded in the sidecar describe exactly what the archive holds; proven by
// restoring it the way back does into a private server (backup-proof.ts), or,
// above BACKUP_PROOF_MAX_BYTES, only checked with pg_restore --list; sha256
// and size; retention.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { BackupRecord, JobResult } from '../../../crds/job-result.js';
import { requireSet, type Config } from '../config.js';
import { connect, qualified, quoteIdent } from '../db.js';
import { log } from '../log.js';
import { assertClientServes, clientVersion, runTool } from '../pgtools.js';
import { MigratorError } from '../result.js';
import { readTargetLook, type TargetLook } from '../shadow/look.js';
import { proveBackup, RestoreVerifyError } from './backup-proof.js';
import { snapshotSums } from './backup-sums.js';

export interface BackupSidecar {
  kind: 'dbmigrate-backup';
  id: string;
  path: string;
  format: 'custom' | 'directory';
  createdAt: string;
  host: string;
  port: number;
  database: string;
  serverVersion: string;
  sizeBytes: number;
  sha256: string;
  verified: boolean;
  tables: Record<string, number>;
  migrationsTable: string;
  migrations: string[] | null;
  /** Highest history id in the archive: restore counts the rows written since. */
  historyMaxId?: number;
  verifiedBy?: 'restore' | 'list';
  /** Per table, the sum of its rows' text hashes in the snapshot (see backup-sums.ts); set when proven. */
  checksums?: Record<string, string>;
  /** Why the archive was not restored to prove it. */
  unproven?: 'tooLarge';
}

export function sidecarPath(archive: string): string {
  return archive.replace(/\/+$/, '').replace(/\.dump$/, '') + '.meta.json';
}

// One buffer, read into again and again: a read stream's fresh 64 KiB chunks cost
// several times the CPU of the hash itself.
const HASH_CHUNK = 1 << 20;

async function hashFile(path: string, h: ReturnType<typeof createHash>, buf: Buffer): Promise<void> {
  const fh = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

/** sha256 and size of the archive file, or of a directory's files in sorted order (name + content). */
export async function archiveDigest(path: string): Promise<{ sha256: string; sizeBytes: number }> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_CHUNK);
  const st = statSync(path);
  if (!st.isDirectory()) {
    await hashFile(path, h, buf);
    return { sha256: h.digest('hex'), sizeBytes: st.size };
  }
  let size = 0;
  for (const f of readdirSync(path).sort()) {
    const p = join(path, f);
    const s = statSync(p);
    if (!s.isFile()) continue;
    h.update(f + '\0');
    await hashFile(p, h, buf);
    size += s.size;
  }
  return { sha256: h.digest('hex'), sizeBytes: size };
}

/** The user tables, each as format('%I.%I') writes it, sorted: a query returning one row per table (t). */
const USER_TABLES_SQL = `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1`;

export async function userTables(q: pg.Client): Promise<string[]> {
  const r = await q.query<{ t: string }>(USER_TABLES_SQL);
  return r.rows.map((x) => x.t);
}

export async function countRows(q: pg.Client, tables: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const r = await q.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`);
    out[t] = Number(r.rows[0]?.n ?? 0);
  }
  return out;
}

export async function appliedMigrationNames(q: pg.Client, cfg: Config): Promise<string[] | null> {
  const table = qualified(cfg, cfg.MIGRATIONS_TABLE);
  const reg = await q.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [table]);
  if (!reg.rows[0]?.r) return null;
  const r = await q.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`);
  return r.rows.map((x) => x.name);
}

/** The result's view of a backup: its sidecar's record with the archive's digest (verified later). */
export function backupRecord(
  path: string,
  meta: BackupSidecar,
  digest: { sizeBytes: number; sha256: string },
): BackupRecord {
  return {
    path,
    format: meta.format,
    sizeBytes: digest.sizeBytes,
    sha256: digest.sha256,
    verified: false,
    serverVersion: meta.serverVersion,
    tables: Object.keys(meta.tables).length,
    rows: Object.values(meta.tables).reduce((a, b) => a + b, 0),
    appliedMigrations: meta.migrations?.length ?? 0,
  };
}

export async function verifyArchive(
  cfg: Config,
  path: string,
  tables: Record<string, number>,
): Promise<void> {
  const { stdout } = await runTool(cfg, 'pg_restore', ['--list', path]);
  const entries = stdout.split('\n').filter((l) => /^\d+;/.test(l));
  // An empty database (a first deploy) dumps to a valid archive with no entries;
  // pg_restore reading its TOC is the check. A database with tables must list their data.
  if (entries.length === 0 && Object.keys(tables).length > 0)
    throw new MigratorError('backup verification failed: the archive lists no entries');
  const data = new Set<string>();
  for (const l of entries) {
    const m = / TABLE DATA (\S+) (\S+) /.exec(l);
    if (m) data.add(`${m[1]}.${m[2]}`);
  }
  const strip = (s: string) => s.replace(/"/g, '');
  const missing = Object.keys(tables).filter((t) => !data.has(strip(t)));
  if (missing.length > 0)
    throw new MigratorError(
      `backup verification failed: no table data for ${missing.slice(0, 5).join(', ')}`,
    );
}

function applyRetention(dir: string, keep: number, cfg: Config, current: string): string[] {
  const metas: Array<{ meta: BackupSidecar; file: string }> = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.meta.json')) continue;
    try {
      const meta = JSON.parse(readFileSync(join(dir, f), 'utf8')) as BackupSidecar;
      if (
        meta.kind !== 'dbmigrate-backup' ||
        meta.database !== cfg.PGDATABASE ||
        meta.host !== cfg.PGHOST ||
        meta.port !== cfg.PGPORT
      )
        continue;
      metas.push({ meta, file: join(dir, f) });
    } catch {
      /* not ours */
    }
  }
  metas.sort((a, b) => b.meta.createdAt.localeCompare(a.meta.createdAt));
  const removed: string[] = [];
  for (const { meta, file } of metas.slice(keep)) {
    if (meta.path === current) continue;
    const archive = join(dir, meta.path.split('/').pop() ?? '');
    rmSync(archive, { recursive: true, force: true });
    rmSync(file, { force: true });
    removed.push(meta.id);
  }
  return removed;
}

/** pg_dump's -Z for the chosen compression; lz4 and zstd exist from pg_dump 16. */
export function compressionArgs(method: Config['BACKUP_COMPRESSION'], pgDumpMajor: number): string[] {
  if (method === undefined || method === 'gzip') return [];
  if (method === 'none') return ['-Z', '0'];
  if (pgDumpMajor < 16)
    throw new MigratorError(
      `BACKUP_COMPRESSION=${method} needs pg_dump 16 or newer; this pg_dump is ${pgDumpMajor} (use gzip)`,
    );
  return ['-Z', method];
}

const GiB = 1024 ** 3;
const size = (n: number) => (n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : `${Math.ceil(n / 1024 ** 2)} MiB`);

/** Why a database of `bytes` is not restored to prove its backup (BACKUP_PROOF_MAX_BYTES), or undefined. */
export function tooLargeToProve(bytes: number, cap: number): string | undefined {
  if (cap === 0 || bytes <= cap) return undefined;
  return `not restored to prove it: the database is ${size(bytes)} (${bytes} bytes), above the proof's cap of ${size(cap)} (${cap} bytes); only its table of contents was read. Raise spec.backup.proof.maxSize (0: no cap) to prove it`;
}

export async function backup(cfg: Config, res: JobResult): Promise<void> {
  const dir = requireSet(cfg, 'BACKUP_DIR', 'for backup');
  mkdirSync(dir, { recursive: true });
  const id = cfg.BACKUP_ID ?? `${cfg.PGDATABASE}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const path = join(dir, cfg.BACKUP_FORMAT === 'custom' ? `${id}.dump` : id);
  if (existsSync(path)) throw new MigratorError(`backup ${path} already exists`);

  // pg_dump's version is read while the connection is made (assertClientServes awaits the same run).
  clientVersion(cfg, 'pg_dump').catch(() => undefined);
  const { client } = await connect(cfg);
  let sidecar: BackupSidecar;
  let look: TargetLook | undefined;
  let targetMajor = 0;
  let tooLarge: string | undefined;
  try {
    // pg_dump refuses a server newer than itself: say so before starting anything.
    const versions = await assertClientServes(cfg, 'pg_dump', client);
    targetMajor = versions.server.major;
    const compression = compressionArgs(cfg.BACKUP_COMPRESSION, versions.client.major);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // What the sidecar records of the snapshot, in one round trip (the start of a backup is
    // a Job's start-up: every round trip counts against bare pg_dump).
    const migrationsTable = qualified(cfg, cfg.MIGRATIONS_TABLE);
    const history = qualified(cfg, cfg.HISTORY_TABLE);
    const head = (
      await client.query<{ s: string; v: string; m: string | null; h: string | null; t: string[] }>(
        `SELECT pg_export_snapshot() AS s, current_setting('server_version') AS v,
                to_regclass($1)::text AS m, to_regclass($2)::text AS h, ARRAY(${USER_TABLES_SQL}) AS t`,
        [migrationsTable, history],
      )
    ).rows[0]!;
    const snapshot = head.s;
    const serverVersion = head.v.split(' ')[0] ?? '';
    const tableNames = head.t;
    if (cfg.BACKUP_VERIFY) {
      const bytes = Number(
        (await client.query<{ b: string }>('SELECT pg_database_size(current_database())::text AS b')).rows[0]
          ?.b ?? 0,
      );
      tooLarge = tooLargeToProve(bytes, cfg.BACKUP_PROOF_MAX_BYTES);
      // What the proof rebuilds privately: catalog reads only, nothing is created on the target.
      if (!tooLarge) look = await readTargetLook(client);
    }
    // The applied migrations and the history's highest id, when those tables exist.
    const tail =
      head.m || head.h
        ? (
            await client.query<{ names: string[] | null; max: string | null }>(
              `SELECT ${head.m ? `ARRAY(SELECT name FROM ${migrationsTable} ORDER BY id)` : 'NULL::text[]'} AS names,
                      ${head.h ? `(SELECT max(id) FROM ${history})::text` : 'NULL'} AS max`,
            )
          ).rows[0]
        : undefined;
    const migrations = head.m ? (tail?.names ?? []) : null;
    const historyMaxId = head.h ? Number(tail?.max ?? 0) : undefined;
    const args =
      cfg.BACKUP_FORMAT === 'custom'
        ? ['-Fc', ...compression, '-f', path]
        : ['-Fd', '-j', String(cfg.BACKUP_JOBS), ...compression, '-f', path];
    log.info(
      {
        path,
        format: cfg.BACKUP_FORMAT,
        compression: cfg.BACKUP_COMPRESSION ?? 'gzip',
        tables: tableNames.length,
      },
      'pg_dump starting',
    );
    // The exact row counts and checksums (what the proof and a restore are checked against) are
    // taken on this connection, in the snapshot pg_dump dumps, while pg_dump runs: both read the same rows.
    const dump = runTool(cfg, 'pg_dump', ['-w', ...args, `--snapshot=${snapshot}`, '-d', cfg.PGDATABASE]);
    const counting = snapshotSums(client, tableNames, look !== undefined);
    const [dumped, counted] = await Promise.allSettled([dump, counting]);
    if (dumped.status === 'rejected' || counted.status === 'rejected') {
      rmSync(path, { recursive: true, force: true });
      // The connection's own error names the cause best (a server stop, a cancel); pg_dump's otherwise.
      throw counted.status === 'rejected' ? counted.reason : (dumped as PromiseRejectedResult).reason;
    }
    log.info({ ms: Math.round(dumped.value.ms) }, 'pg_dump finished');
    await client.query('COMMIT');
    const digest = await archiveDigest(path);
    sidecar = {
      kind: 'dbmigrate-backup',
      id,
      path,
      format: cfg.BACKUP_FORMAT,
      createdAt: new Date().toISOString(),
      host: cfg.PGHOST,
      port: cfg.PGPORT,
      database: cfg.PGDATABASE,
      serverVersion,
      ...digest,
      verified: false,
      tables: counted.value.counts,
      ...(counted.value.checksums ? { checksums: counted.value.checksums } : {}),
      migrationsTable: cfg.MIGRATIONS_TABLE,
      migrations,
      historyMaxId,
    };
    res.backup = backupRecord(path, sidecar, sidecar);
  } finally {
    // The target is done with: the proof runs on a private server.
    await client.end().catch(() => undefined);
  }
  const record = res.backup;
  if (cfg.BACKUP_VERIFY) {
    try {
      await verifyArchive(cfg, path, sidecar.tables);
      if (look && sidecar.checksums) {
        const proof = await proveBackup(
          cfg,
          path,
          look,
          { counts: sidecar.tables, checksums: sidecar.checksums },
          targetMajor,
        );
        record.verifiedBy = sidecar.verifiedBy = 'restore';
        sidecar.verified = record.verified = true;
        log.info(
          { ms: Math.round(proof.ms), role: look.me },
          'backup proven by a restore on a private server',
        );
      } else {
        record.verifiedBy = sidecar.verifiedBy = 'list';
        record.unproven = sidecar.unproven = 'tooLarge';
        record.verifyNote = tooLarge;
      }
    } catch (err) {
      record.verifiedBy = err instanceof RestoreVerifyError ? 'restore' : 'list';
      rmSync(path, { recursive: true, force: true });
      throw err;
    }
  }
  if (record.verifiedBy === 'list')
    log.warn({ note: record.verifyNote }, 'backup not verified by a test restore');
  writeFileSync(sidecarPath(path), JSON.stringify(sidecar, null, 2));
  const removed = applyRetention(dir, cfg.BACKUP_RETENTION, cfg, path);
  log.info({ ...record, removed }, 'backup finished');
}

export { quoteIdent };
