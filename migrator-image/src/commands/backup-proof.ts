// The proof that a backup restores: the way back (restore.ts) run for real on
// a PRIVATE PostgreSQL server this process starts (initdb in a temp dir, Unix
// socket only), never on the target: nothing is created there (no database, no
// role, no WAL for the standbys, nothing left behind when the Pod is killed),
// and a role without CREATEDB is proven like any other.
//
// The private copy is made to look like the target to the restoring role: the
// same role name with the same attributes (a non-superuser stays one) and
// memberships, the database under the same name and owner, schema public with
// the same owner, and the extensions the role does not own already there,
// owned by their owners. The restore then takes the same -L list and the same
// one-transaction path as the real one, so an archive the real restore cannot
// restore ("must be owner of extension ...") is not recorded as proven.
import type { Config } from '../config.js';
import { clientVersion, restoreInOneTransaction, TRANSACTION_TIMEOUT_SET } from '../pgtools.js';
import { restoreListWithout } from '../restore-list.js';
import { MigratorError } from '../result.js';
import { prepareCluster, prepareDatabase, privateConfig, type TargetLook } from '../shadow/look.js';
import { chooseBinDir, startShadow } from '../shadow/server.js';
import { compareSumsSql, type TableSums } from './backup-sums.js';

/** The archive was restored to prove it and that failed: the backup is not kept. */
export class RestoreVerifyError extends MigratorError {}

/**
 * Restores `archive` into a private server shaped like the target, as the
 * target's role, through the real restore's path, and compares every table's
 * count and checksum with the snapshot's before COMMIT. Throws
 * RestoreVerifyError on any difference or restore error.
 */
export async function proveBackup(
  cfg: Config,
  archive: string,
  look: TargetLook,
  sums: Required<TableSums>,
  targetMajor: number,
): Promise<{ ms: number }> {
  const t0 = performance.now();
  let binDir: string;
  try {
    binDir = chooseBinDir(targetMajor, cfg.SHADOW_PG_BIN_DIR);
  } catch (err) {
    throw new MigratorError(
      `backup verification needs a private PostgreSQL server: ${(err as Error).message}`,
    );
  }
  const server = await startShadow({ binDir, parentDir: cfg.SHADOW_DATA_DIR });
  try {
    await prepareCluster(cfg, server, look);
    await prepareDatabase(cfg, server, look).catch((err: unknown) => {
      throw new RestoreVerifyError(`backup verification failed: ${(err as Error).message}`);
    });
    const pcfg = privateConfig(cfg, server, look.me, look.database);
    const client = await clientVersion(cfg, 'pg_restore');
    // As restore.ts: pg_restore 17+ writes a setting servers before 17 reject.
    const dropHeader = client.major >= 17 && server.major < 17 ? [TRANSACTION_TIMEOUT_SET] : [];
    const list = await restoreListWithout(cfg, archive, look.foreign);
    try {
      await restoreInOneTransaction(
        pcfg,
        archive,
        'BEGIN;\n',
        compareSumsSql(sums),
        dropHeader,
        list ? ['-L', list.file] : [],
      );
    } catch (err) {
      const why = (err as Error).message.replace(/^restore rolled back, the database is unchanged: /, '');
      // The comparison's own exception names the table; anything else is the restore failing.
      const differs = /^psql failed: (table .* restored with .*)$/.exec(why);
      throw new RestoreVerifyError(
        differs
          ? `backup verification failed: ${differs[1]}`
          : `backup verification failed: the archive does not restore as ${look.me}: ${why}`,
      );
    } finally {
      list?.remove();
    }
    return { ms: performance.now() - t0 };
  } finally {
    await server.stop();
  }
}
