// restore: BACKUP_PATH back into the database with pg_restore (--clean
// --if-exists --exit-on-error; one transaction for custom format, -j for
// directory), under the migration lock, after checking the archive's sha256
// against its sidecar; then compares per-table row counts and the migrations
// table with the sidecar.
import { existsSync, readFileSync } from 'node:fs';
import type { JobResult } from '../../../crds/job-result.js';
import { requireSet, type Config } from '../config.js';
import { acquireLock, connect, pgRows } from '../db.js';
import { log } from '../log.js';
import { runTool } from '../pgtools.js';
import { MigratorError } from '../result.js';
import {
  backupRecord,
  appliedMigrationNames,
  archiveDigest,
  countRows,
  sidecarPath,
  userTables,
  type BackupSidecar,
} from './backup.js';

export async function restore(cfg: Config, res: JobResult): Promise<void> {
  const path = requireSet(cfg, 'BACKUP_PATH', 'for restore').replace(/\/+$/, '');
  if (!existsSync(path)) throw new MigratorError(`backup ${path} does not exist`);
  const metaPath = sidecarPath(path);
  if (!existsSync(metaPath))
    throw new MigratorError(
      `backup ${path} has no sidecar record ${metaPath}: refusing to restore unverifiable data`,
    );
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as BackupSidecar;
  const digest = await archiveDigest(path);
  if (digest.sha256 !== meta.sha256)
    throw new MigratorError(
      `backup ${path} is corrupt: sha256 ${digest.sha256.slice(0, 12)} differs from the recorded ${meta.sha256.slice(0, 12)}`,
    );
  res.backup = backupRecord(path, meta, digest);

  const { client } = await connect(cfg);
  const unlock = await acquireLock(pgRows(client), {
    ...cfg,
    MIGRATIONS_TABLE: meta.migrationsTable ?? cfg.MIGRATIONS_TABLE,
  }).catch(async (e) => {
    await client.end().catch(() => undefined);
    throw e;
  });
  try {
    // Tables created after the backup (typically by the migration being undone) would survive
    // pg_restore --clean, which drops only what the archive holds, and can even block it
    // (a new foreign key onto a restored table). Restoring the backup's state drops them first.
    const extra = (await userTables(client)).filter((t) => !(t in meta.tables));
    if (extra.length > 0 && cfg.RESTORE_DROP_NEW_TABLES) {
      await client.query(`DROP TABLE IF EXISTS ${extra.join(', ')} CASCADE`);
      log.warn({ tables: extra }, 'dropped tables created after the backup');
    }
    const args = ['--clean', '--if-exists', '--exit-on-error', '-w', '-d', cfg.PGDATABASE];
    if (meta.format === 'custom') args.push('--single-transaction');
    else args.push('-j', String(cfg.BACKUP_JOBS));
    log.info({ path, format: meta.format }, 'pg_restore starting');
    const run = await runTool(cfg, 'pg_restore', [...args, path]);
    log.info({ ms: Math.round(run.ms) }, 'pg_restore finished');

    const problems: string[] = [];
    const now = await countRows(client, Object.keys(meta.tables));
    for (const [t, n] of Object.entries(meta.tables)) {
      if (now[t] !== n) problems.push(`table ${t} has ${now[t]} rows, the backup ${n}`);
    }
    const remaining = (await userTables(client)).filter((t) => !(t in meta.tables));
    if (remaining.length > 0)
      problems.push(`tables not in the backup remain: ${remaining.slice(0, 5).join(', ')}`);
    const cfgMeta = { ...cfg, MIGRATIONS_TABLE: meta.migrationsTable ?? cfg.MIGRATIONS_TABLE };
    const migrations = await appliedMigrationNames(client, cfgMeta);
    if (JSON.stringify(migrations ?? []) !== JSON.stringify(meta.migrations ?? [])) {
      problems.push(
        `the migrations table differs from the backup (${migrations?.length ?? 0} rows, the backup ${meta.migrations?.length ?? 0})`,
      );
    }
    res.verify = { pending: [], problems };
    if (problems.length > 0) throw new MigratorError(`restore verification failed: ${problems[0]}`);
    res.backup.verified = true;
  } finally {
    await unlock();
    await client.end().catch(() => undefined);
  }
}
