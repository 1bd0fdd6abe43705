// restore: BACKUP_PATH back into the database it was taken from, all or
// nothing. The archive's sha256 is checked against its sidecar and the
// sidecar's host/port/database against the target; then, under the migration
// lock and in ONE transaction (psql fed by `pg_restore -f -`): tables created
// after the backup are dropped, the archive is restored (--clean --if-exists),
// the history rows written since the backup are put back, and the migrations
// the restore undid get a `down` history row. Any failure rolls all of it back.
// Afterwards per-table row counts and the migrations table are compared with
// the sidecar.
import { existsSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import type { AppliedMigration, JobResult } from '../../../crds/job-result.js';
import { requireSet, type Config } from '../config.js';
import { acquireLock, connect, pgRows, qualified } from '../db.js';
import { log } from '../log.js';
import { assertClientServes, restoreInOneTransaction, TRANSACTION_TIMEOUT_SET } from '../pgtools.js';
import { MigratorError } from '../result.js';
import { foreignExtensions, restoreListWithout } from '../restore-list.js';
import { HISTORY_COLUMNS, historyTableDdl, historyTableUpgrade } from '../session.js';
import {
  backupRecord,
  appliedMigrationNames,
  archiveDigest,
  countRows,
  sidecarPath,
  userTables,
  type BackupSidecar,
} from './backup.js';

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The table's key in the sidecar's `tables` (schema.name as format('%I.%I') gives it), if it exists. */
async function tableKey(client: pg.Client, table: string): Promise<string | undefined> {
  const r = await client.query<{ k: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS k FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1)`,
    [table],
  );
  return r.rows[0]?.k;
}

/** The schema of a table key as format('%I.%I') writes it (a quoted name may hold dots and quotes). */
export function schemaOfKey(key: string): string {
  if (!key.startsWith('"')) return key.slice(0, key.indexOf('.'));
  let i = 1;
  let out = '';
  for (; i < key.length; i++) {
    if (key[i] === '"' && key[i + 1] === '"') {
      out += '"';
      i++;
    } else if (key[i] === '"') break;
    else out += key[i];
  }
  return out;
}

/** The history table's key (schema.name) when it does not exist yet (a first run's backup predates it). */
function defaultKey(cfg: Config): string {
  return `${cfg.MIGRATIONS_SCHEMA ?? 'public'}.${cfg.HISTORY_TABLE}`;
}

/** A dollar-quoted SQL literal whose tag the text cannot close. */
function dollar(text: string): string {
  let tag = 'dbm';
  while (text.includes(`$${tag}$`)) tag += 'x';
  return `$${tag}$${text}$${tag}$`;
}

/**
 * The restore's checks, run in its transaction before COMMIT (any difference
 * raises, and the whole restore rolls back): each table's row count as the
 * backup's snapshot counted it, no table the backup did not hold (the history
 * table apart: kept by design, also on a first run whose backup predates it),
 * and the migrations table's names. Inside the transaction the restored tables
 * are locked, so no other writer can change what is compared.
 */
export function verifyBeforeCommit(
  meta: BackupSidecar,
  historyKey: string,
  migrationsTable: string,
  /** Only these schemas are compared (a scoped restore); undefined: all. */
  schemas?: readonly string[],
): string {
  const inSchemas = schemas
    ? ` AND ns.nspname IN (SELECT json_array_elements_text(${dollar(JSON.stringify(schemas))}::json))`
    : '';
  const counts = JSON.stringify(
    Object.fromEntries(Object.entries(meta.tables).filter(([t]) => t !== historyKey)),
  );
  const tables = JSON.stringify([...Object.keys(meta.tables), historyKey]);
  const migrations = JSON.stringify(meta.migrations ?? []);
  return `DO $dbm_verify$
DECLARE r record; n bigint; extra text; names json;
BEGIN
  FOR r IN SELECT key, value::bigint AS want FROM json_each_text(${dollar(counts)}::json) LOOP
    EXECUTE 'SELECT count(*) FROM ' || r.key INTO n;
    IF n <> r.want THEN
      RAISE EXCEPTION 'restore verification failed: table % has % rows, the backup %', r.key, n, r.want;
    END IF;
  END LOOP;
  SELECT string_agg(t, ', ' ORDER BY t) INTO extra FROM (
    SELECT format('%I.%I', ns.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
     WHERE c.relkind = 'r' AND ns.nspname NOT IN ('pg_catalog', 'information_schema') AND ns.nspname NOT LIKE 'pg\\_%'${inSchemas}
  ) s WHERE t NOT IN (SELECT json_array_elements_text(${dollar(tables)}::json));
  IF extra IS NOT NULL THEN
    RAISE EXCEPTION 'restore verification failed: tables not in the backup remain: %', extra;
  END IF;
  IF to_regclass(${lit(migrationsTable)}) IS NOT NULL THEN
    EXECUTE 'SELECT coalesce(json_agg(name ORDER BY id), ''[]''::json) FROM ' || ${lit(migrationsTable)} INTO names;
  ELSE
    names := '[]'::json;
  END IF;
  IF names::jsonb <> ${dollar(migrations)}::jsonb THEN
    RAISE EXCEPTION 'restore verification failed: the migrations table differs from the backup (% rows, the backup %)',
      json_array_length(names), json_array_length(${dollar(migrations)}::json);
  END IF;
END $dbm_verify$;`;
}

/** Refuses a backup of another database: a restore only ever goes back where the backup came from. */
export function checkSameTarget(meta: BackupSidecar, cfg: Config): void {
  const was = `${meta.host}:${meta.port}/${meta.database}`;
  const is = `${cfg.PGHOST}:${cfg.PGPORT}/${cfg.PGDATABASE}`;
  if (was !== is)
    throw new MigratorError(
      `backup ${meta.id} was taken from ${was}, not the target ${is}: refusing to restore it there`,
    );
}

export async function restore(cfg: Config, res: JobResult): Promise<void> {
  const path = requireSet(cfg, 'BACKUP_PATH', 'for restore').replace(/\/+$/, '');
  if (!existsSync(path)) throw new MigratorError(`backup ${path} does not exist`);
  const metaPath = sidecarPath(path);
  if (!existsSync(metaPath))
    throw new MigratorError(
      `backup ${path} has no sidecar record ${metaPath}: refusing to restore unverifiable data`,
    );
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as BackupSidecar;
  checkSameTarget(meta, cfg);
  const digest = await archiveDigest(path);
  if (digest.sha256 !== meta.sha256)
    throw new MigratorError(
      `backup ${path} is corrupt: sha256 ${digest.sha256.slice(0, 12)} differs from the recorded ${meta.sha256.slice(0, 12)}`,
    );
  res.backup = { ...backupRecord(path, meta, digest), createdAt: meta.createdAt };

  const cfgMeta = { ...cfg, MIGRATIONS_TABLE: meta.migrationsTable ?? cfg.MIGRATIONS_TABLE };
  const history = qualified(cfg, cfg.HISTORY_TABLE);
  const { client } = await connect(cfg);
  // Checked before anything changes: the restore must not stop half-way on a version mismatch.
  const versions = await assertClientServes(cfg, 'pg_restore', client).catch(async (e) => {
    await client.end().catch(() => undefined);
    throw e;
  });
  // pg_restore 17+ writes `SET transaction_timeout = 0` into its script; servers before 17 reject it.
  const dropHeader =
    versions.client.major >= 17 && versions.server.major < 17 ? [TRANSACTION_TIMEOUT_SET] : [];
  const unlock = await acquireLock(pgRows(client), cfgMeta).catch(async (e) => {
    await client.end().catch(() => undefined);
    throw e;
  });
  try {
    // Tables created after the backup (typically by the migration being undone) would survive
    // pg_restore --clean, which drops only what the archive holds, and can even block it
    // (a new foreign key onto a restored table). They are dropped in the same transaction.
    // A scoped restore puts back only the schemas the run touched (the migrations schema always):
    // other schemas keep every write made since the backup.
    const scope = cfg.RESTORE_SCHEMAS.length
      ? [...new Set([...cfg.RESTORE_SCHEMAS, cfg.MIGRATIONS_SCHEMA ?? 'public'])]
      : undefined;
    const inScope = (key: string) => !scope || scope.includes(schemaOfKey(key));
    const scoped: BackupSidecar = scope
      ? { ...meta, tables: Object.fromEntries(Object.entries(meta.tables).filter(([t]) => inScope(t))) }
      : meta;
    const extra = (await userTables(client)).filter((t) => !(t in meta.tables) && inScope(t));
    const drop = cfg.RESTORE_DROP_NEW_TABLES ? extra : [];
    const historyKey = await tableKey(client, history);
    const hasHistory = historyKey !== undefined;
    let since = 0;
    if (hasHistory) {
      const r = await client.query<{ n: string }>(
        meta.historyMaxId !== undefined
          ? `SELECT count(*) AS n FROM ${history} WHERE id > $1`
          : `SELECT greatest(count(*) - $1, 0) AS n FROM ${history}`,
        [meta.historyMaxId ?? meta.tables[historyKey ?? ''] ?? 0],
      );
      since = Number(r.rows[0]?.n ?? 0);
    }
    const undone = ((await appliedMigrationNames(client, cfgMeta)) ?? []).filter(
      (n) => !(meta.migrations ?? []).includes(n),
    );
    const cols = HISTORY_COLUMNS.join(', ');
    const prelude = [
      'BEGIN;',
      hasHistory
        ? `CREATE TEMP TABLE dbm_keep_history ON COMMIT DROP AS SELECT ${cols} FROM ${history};`
        : '',
      drop.length > 0 ? `DROP TABLE IF EXISTS ${drop.join(', ')} CASCADE;` : '',
      '',
    ].join('\n');
    const postlude = [
      // pg_restore's script empties search_path for the session.
      'RESET search_path;',
      hasHistory ? `${historyTableDdl(history)};` : '',
      // The backup may predate 'started': widen its CHECK before the kept rows go back in.
      hasHistory ? `${historyTableUpgrade(history)};` : '',
      hasHistory
        ? `INSERT INTO ${history} (${cols}) SELECT ${cols} FROM dbm_keep_history k WHERE NOT EXISTS (SELECT 1 FROM ${history} h WHERE h.id = k.id);`
        : '',
      hasHistory
        ? `SELECT setval(pg_get_serial_sequence(${lit(history)}, 'id'), max(id)) FROM ${history} HAVING max(id) IS NOT NULL;`
        : '',
      // After setval, so these rows take ids after the kept ones.
      ...(hasHistory
        ? undone
            .slice()
            .reverse()
            .map(
              (n) =>
                `INSERT INTO ${history} (name, direction, applied_by, duration_ms, transaction_mode) VALUES (${lit(n)}, 'down', ${lit(cfg.MIGRATION_AUTHOR)}, 0, 'restore');`,
            )
        : []),
      verifyBeforeCommit(
        scoped,
        historyKey ?? defaultKey(cfg),
        qualified(cfgMeta, cfgMeta.MIGRATIONS_TABLE),
        scope,
      ),
    ].join('\n');
    log.info(
      { path, format: meta.format, backupCreatedAt: meta.createdAt, historyRowsSince: since, undone, drop },
      'restore starting (one transaction)',
    );
    // Extensions the role does not own stay in place (their owner alone may drop or create them).
    const list = await restoreListWithout(cfg, path, await foreignExtensions(client));
    if (list) log.info({ skipped: list.skipped }, 'left in place: extensions this role does not own');
    const select = [...(list ? ['-L', list.file] : []), ...(scope ?? []).flatMap((n) => ['-n', n])];
    if (scope) log.info({ schemas: scope }, 'restoring only the schemas the run touched');
    const run = await restoreInOneTransaction(cfg, path, prelude, postlude, dropHeader, select).finally(() =>
      list?.remove(),
    );
    log.info({ ms: Math.round(run.ms) }, 'restore committed');
    if (drop.length > 0) log.warn({ tables: drop }, 'dropped tables created after the backup');
    res.backup.historyRowsSince = since;
    res.migrations = undone
      .slice()
      .reverse()
      .map((name): AppliedMigration => ({ name, durationMs: 0, outcome: 'reverted' }));

    // Verified before COMMIT (verifyBeforeCommit). Now only a figure: what others wrote since.
    const restoredHistory = await tableKey(client, history);
    const counted = Object.keys(scoped.tables).filter((t) => t !== restoredHistory);
    const now = await countRows(client, counted).catch(() => ({}) as Record<string, number>);
    const changed = counted.reduce(
      (sum, t) => sum + Math.abs((now[t] ?? meta.tables[t] ?? 0) - (meta.tables[t] ?? 0)),
      0,
    );
    if (changed > 0) log.warn({ rows: changed }, 'rows changed by other writers since the restore committed');
    res.backup.rowsChangedAfterCommit = changed;
    res.verify = { pending: [], problems: [] };
    res.backup.verified = true;
  } finally {
    await unlock();
    await client.end().catch(() => undefined);
  }
}
