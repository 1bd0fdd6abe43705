// An external shadow server (spec.check.shadow): for targets whose extensions
// the migrator image lacks. The check never uses that server's existing
// databases: it creates a fresh one per check and drops it afterwards, so the
// server can be shared by many resources.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { connect, quoteIdent } from '../db.js';
import { log } from '../log.js';
import { MigratorError } from '../result.js';
import type { ShadowServer } from './server.js';

export interface ExternalShadow {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** A database to connect to for CREATE/DROP DATABASE (default postgres). */
  maintenanceDatabase: string;
  sslMode: Config['PGSSLMODE'];
}

/** The external shadow of the environment (SHADOW_PGHOST and friends), if one is configured. */
export function externalShadowOf(cfg: Config): ExternalShadow | undefined {
  if (!cfg.SHADOW_PGHOST) return undefined;
  if (!cfg.SHADOW_PGUSER) throw new MigratorError('SHADOW_PGHOST is set but SHADOW_PGUSER is not');
  return {
    host: cfg.SHADOW_PGHOST,
    port: cfg.SHADOW_PGPORT,
    user: cfg.SHADOW_PGUSER,
    password: cfg.SHADOW_PGPASSWORD,
    maintenanceDatabase: cfg.SHADOW_PGDATABASE,
    sslMode: cfg.SHADOW_PGSSLMODE,
  };
}

function asConfig(cfg: Config, ext: ExternalShadow, database: string): Config {
  return {
    ...cfg,
    PGHOST: ext.host,
    PGPORT: ext.port,
    PGUSER: ext.user,
    PGPASSWORD: ext.password,
    PGDATABASE: database,
    PGSSLMODE: ext.sslMode,
  };
}

/**
 * A fresh database on the external server, for one check: refuses a server
 * older than the target (a schema dump restores only into the same or a newer
 * major). `stop` drops the database.
 */
export async function openExternalShadow(
  cfg: Config,
  ext: ExternalShadow,
  targetMajor: number,
): Promise<ShadowServer> {
  const database = `dbm_shadow_${randomBytes(6).toString('hex')}`;
  const { client, serverVersionNum } = await connect(asConfig(cfg, ext, ext.maintenanceDatabase)).catch(
    (err: unknown) => {
      throw new MigratorError(
        `cannot connect to the external shadow server ${ext.host}:${ext.port} (spec.check.shadow): ${(err as Error).message}`,
      );
    },
  );
  const major = Math.floor(serverVersionNum / 10000);
  try {
    if (major < targetMajor)
      throw new MigratorError(
        `the external shadow server (spec.check.shadow) runs PostgreSQL ${major}, older than the target's ${targetMajor}: a schema dump restores only into the same or a newer major`,
      );
    await client.query(`CREATE DATABASE ${quoteIdent(database)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const { client: c } = await connect(asConfig(cfg, ext, ext.maintenanceDatabase));
    try {
      // WITH (FORCE) since PostgreSQL 13: a session the check left behind must not keep the database.
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}${major >= 13 ? ' WITH (FORCE)' : ''}`);
    } catch (err) {
      log.warn(
        { database, err: (err as Error).message },
        'could not drop the shadow database on the external server',
      );
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  return {
    host: ext.host,
    port: ext.port,
    user: ext.user,
    password: ext.password,
    sslMode: ext.sslMode,
    database,
    external: true,
    binDir: '',
    major,
    stop,
  };
}
