// The shadow made to look like the target to the role the migrations run as:
// the target's roles with their attributes and memberships, the database and
// schema public owned as on the target, the schema with its owners and grants,
// extensions owned by the role that owns them on the target, and the
// migrations table's rows. The migrations then run as the target's role, not
// as the shadow's superuser, so a privilege error ("permission denied to
// create extension") shows in the check as it would in production.
import type { Config } from '../config.js';
import { connect, quoteIdent } from '../db.js';
import { log } from '../log.js';
import type { Capture } from './capture.js';
import { prepareCluster, prepareDatabase } from './look.js';
import type { ShadowServer } from './server.js';

export function shadowConfig(cfg: Config, shadow: ShadowServer, database: string, user?: string): Config {
  return {
    ...cfg,
    PGHOST: shadow.host,
    PGPORT: shadow.port,
    PGUSER: user ?? shadow.user,
    PGPASSWORD: shadow.password,
    PGDATABASE: database,
    PGSSLMODE: shadow.sslMode ?? 'disable',
    // Nothing else runs on the shadow: no lock to wait for, no statement to cut short.
    LOCK_TIMEOUT_SECONDS: 0,
    STATEMENT_TIMEOUT_SECONDS: 0,
  };
}

const ident = quoteIdent;

export interface PreparedShadow {
  /** The database the migrations run in. */
  database: string;
  /** The role they run as: the target's role on a local shadow, the configured user on an external one. */
  user: string;
}

/**
 * Roles and database. A local shadow is shaped like the target (look.ts); an
 * external server (spec.check.shadow) may refuse to create roles: its fresh
 * database is used and the migrations run as its configured user.
 */
export async function prepareShadow(
  cfg: Config,
  shadow: ShadowServer,
  cap: Capture,
): Promise<PreparedShadow> {
  if (!shadow.external) {
    await prepareCluster(cfg, shadow, cap.look);
    await prepareDatabase(cfg, shadow, cap.look);
    return { database: cap.look.database, user: cap.look.me };
  }
  const { client } = await connect(shadowConfig(cfg, shadow, shadow.database));
  try {
    for (const r of cap.look.roles)
      await client
        .query(
          `DO $$ BEGIN CREATE ROLE ${ident(r.name)} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
        )
        .catch((err: unknown) =>
          log.warn(
            { role: r.name, err: (err as Error).message },
            'could not create a role on the external shadow',
          ),
        );
    return { database: shadow.database, user: shadow.user };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The schema dump of an external shadow: its roles may not exist there, so owners and grants are left out. */
export function withoutOwnership(schemaSql: string): string {
  return schemaSql
    .split('\n')
    .filter((l) => !/^ALTER .* OWNER TO .*;$/.test(l) && !/^(GRANT|REVOKE) .*;$/.test(l))
    .join('\n');
}

/**
 * After the schema: extensions owned as on the target (the dump creates them as
 * the shadow's superuser), and the migrations table's rows with their ids, its
 * id sequence moved past them.
 */
export async function finishShadow(
  cfg: Config,
  shadow: ShadowServer,
  cap: Capture,
  database: string,
  /** The table whose rows the capture holds; undefined when they came with the data. */
  migrationsTable: string | undefined,
): Promise<number> {
  const { client } = await connect(shadowConfig(cfg, shadow, database));
  try {
    if (!shadow.external)
      for (const e of cap.look.extensions)
        await client
          .query(
            `UPDATE pg_extension SET extowner = (SELECT oid FROM pg_roles WHERE rolname = $1)
              WHERE extname = $2 AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`,
            [e.owner, e.name],
          )
          .catch((err: unknown) =>
            log.warn({ extension: e.name, err: (err as Error).message }, 'extension owner not copied'),
          );
    if (cap.migrationRows === null || migrationsTable === undefined) return 0;
    const [reg] = (
      await client.query<{ reg: string | null }>(`SELECT to_regclass($1) AS reg`, [migrationsTable])
    ).rows;
    if (!reg?.reg) return 0;
    await client.query(
      `INSERT INTO ${migrationsTable} SELECT * FROM json_populate_recordset(null::${migrationsTable}, $1::json)`,
      [cap.migrationRows],
    );
    const seqCols = await client.query<{ col: string }>(
      `SELECT a.attname AS col FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
          AND pg_get_serial_sequence($1::text, a.attname::text) IS NOT NULL`,
      [migrationsTable],
    );
    for (const { col } of seqCols.rows)
      await client.query(
        `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(${ident(col)}) FROM ${migrationsTable}), 0) + 1, false)`,
        [migrationsTable, col],
      );
    return (JSON.parse(cap.migrationRows) as unknown[]).length;
  } finally {
    await client.end().catch(() => undefined);
  }
}
