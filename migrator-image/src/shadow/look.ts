// The target as a role sees it (catalog reads only: roles and their attributes,
// memberships, owners, extensions), and a private PostgreSQL server shaped
// like it: the same roles (a non-superuser stays one), the database and schema
// public under the same owners, and the extensions the role does not own
// already there, owned by their owners. The backup's proof restores into such
// a server; the check runs the migrations on one, as the target's role, so a
// privilege error shows there as it would in production.
import type pg from 'pg';
import type { Config } from '../config.js';
import { connect, quoteIdent } from '../db.js';
import { log } from '../log.js';
import { foreignExtensions } from '../restore-list.js';
import { MigratorError } from '../result.js';
import type { ShadowServer } from './server.js';

export interface RoleLook {
  name: string;
  super: boolean;
  createdb: boolean;
  createrole: boolean;
  inherit: boolean;
  bypassrls: boolean;
}

export interface ExtensionLook {
  name: string;
  owner: string;
  schema: string;
  schemaOwner: string;
}

/** What the restoring role sees of the target, read there (catalog reads only). */
export interface TargetLook {
  me: string;
  roles: RoleLook[];
  memberships: Array<{ role: string; member: string; admin: boolean }>;
  database: string;
  databaseOwner: string;
  encoding: string;
  /** undefined: the target has no schema public. */
  publicOwner?: string;
  extensions: ExtensionLook[];
  /** The extensions the real restore leaves out (foreignExtensions). */
  foreign: string[];
}

export async function readTargetLook(q: pg.Client): Promise<TargetLook> {
  const me = (await q.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  // Every role (names and attributes, never passwords: pg_roles hides them): ownerships and
  // GRANTs in the archive name them, and the real restore finds them all on the target.
  const roles = (
    await q.query<RoleLook>(
      `SELECT rolname AS name, rolsuper AS super, rolcreatedb AS createdb, rolcreaterole AS createrole,
              rolinherit AS inherit, rolbypassrls AS bypassrls
         FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY oid`,
    )
  ).rows;
  // The role's memberships, up through every role it is a member of.
  const memberships = (
    await q.query<{ role: string; member: string; admin: boolean }>(
      `WITH RECURSIVE up(oid) AS (
         SELECT oid FROM pg_roles WHERE rolname = current_user
         UNION SELECT m.roleid FROM pg_auth_members m JOIN up ON m.member = up.oid)
       SELECT DISTINCT r.rolname AS role, u.rolname AS member, m.admin_option AS admin
         FROM pg_auth_members m JOIN up ON m.member = up.oid
         JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member`,
    )
  ).rows;
  const db = (
    await q.query<{ database: string; owner: string; encoding: string }>(
      `SELECT datname AS database, pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding
         FROM pg_database WHERE datname = current_database()`,
    )
  ).rows[0]!;
  const pub = (
    await q.query<{ owner: string }>(
      `SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'public'`,
    )
  ).rows[0];
  const extensions = (
    await q.query<ExtensionLook>(
      `SELECT e.extname AS name, pg_get_userbyid(e.extowner) AS owner, n.nspname AS schema,
              pg_get_userbyid(n.nspowner) AS "schemaOwner"
         FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname <> 'plpgsql' ORDER BY e.oid`,
    )
  ).rows;
  return {
    me,
    roles,
    memberships,
    database: db.database,
    databaseOwner: db.owner,
    encoding: db.encoding,
    publicOwner: pub?.owner,
    extensions,
    foreign: await foreignExtensions(q),
  };
}

function roleSql(r: RoleLook, login: boolean): string {
  const attr = (on: boolean, name: string) => (on ? name : `NO${name}`);
  return `CREATE ROLE ${quoteIdent(r.name)} ${login ? 'LOGIN' : 'NOLOGIN'} ${attr(r.super, 'SUPERUSER')} ${attr(r.createdb, 'CREATEDB')} ${attr(r.createrole, 'CREATEROLE')} ${attr(r.inherit, 'INHERIT')} ${attr(r.bypassrls, 'BYPASSRLS')}`;
}

export function privateConfig(cfg: Config, server: ShadowServer, user: string, database: string): Config {
  return {
    ...cfg,
    PGHOST: server.host,
    PGPORT: server.port,
    PGUSER: user,
    // Trust on the private socket: the target's password never goes there.
    PGPASSWORD: undefined,
    PGDATABASE: database,
    PGSSLMODE: 'disable',
    // Nothing else runs there: no lock to wait for.
    LOCK_TIMEOUT_SECONDS: 0,
    STATEMENT_TIMEOUT_SECONDS: 0,
  };
}

/** Roles, memberships and the database, as the bootstrap superuser in the maintenance database. */
export async function prepareCluster(cfg: Config, server: ShadowServer, look: TargetLook): Promise<void> {
  const { client } = await connect(privateConfig(cfg, server, server.user, server.database));
  try {
    const existing = new Set(
      (await client.query<{ n: string }>('SELECT rolname AS n FROM pg_roles')).rows.map((r) => r.n),
    );
    if (existing.has(look.me))
      log.warn(
        { role: look.me },
        'the target role has the private server superuser name: proven as superuser',
      );
    const create = look.roles.filter((r) => !existing.has(r.name)).map((r) => roleSql(r, r.name === look.me));
    if (create.length > 0) await client.query(create.join(';\n'));
    const known = new Set([...existing, ...look.roles.map((r) => r.name)]);
    // A predefined role this server's version lacks cannot be granted: the rest still is.
    const grants = look.memberships
      .filter((m) => known.has(m.role) && known.has(m.member))
      .map(
        (m) => `GRANT ${quoteIdent(m.role)} TO ${quoteIdent(m.member)}${m.admin ? ' WITH ADMIN OPTION' : ''}`,
      );
    if (grants.length > 0) await client.query(grants.join(';\n'));
    // The target may be the maintenance database itself: it exists here too, only its owner changes.
    const exists = (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [look.database]))
      .rowCount;
    // C locale: any encoding goes with it, and no collation of the image is needed.
    await client.query(
      exists
        ? `ALTER DATABASE ${quoteIdent(look.database)} OWNER TO ${quoteIdent(look.databaseOwner)}`
        : `CREATE DATABASE ${quoteIdent(look.database)} OWNER ${quoteIdent(look.databaseOwner)} TEMPLATE template0 ENCODING '${look.encoding.replace(/'/g, '')}' LC_COLLATE 'C' LC_CTYPE 'C'`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Schema public's owner and the extensions the role does not own, as the target has them. */
export async function prepareDatabase(cfg: Config, server: ShadowServer, look: TargetLook): Promise<void> {
  const { client } = await connect(privateConfig(cfg, server, server.user, look.database));
  try {
    if (look.publicOwner === undefined) await client.query('DROP SCHEMA IF EXISTS public');
    else await client.query(`ALTER SCHEMA public OWNER TO ${quoteIdent(look.publicOwner)}`);
    const foreign = new Set(look.foreign);
    for (const e of look.extensions.filter((x) => foreign.has(x.name))) {
      try {
        await client.query(
          `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(e.schema)} AUTHORIZATION ${quoteIdent(e.schemaOwner)}`,
        );
        // Created by its owner, so the restoring role meets it as on the target: someone else's.
        await client.query(`SET ROLE ${quoteIdent(e.owner)}`);
        await client.query(
          `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e.name)} SCHEMA ${quoteIdent(e.schema)}`,
        );
        await client.query('RESET ROLE');
      } catch (err) {
        const msg = (err as Error).message;
        throw new MigratorError(
          /control file|is not available/.test(msg)
            ? `the migrator image has no extension ${e.name} (${msg}): the private server cannot hold a copy of the target`
            : `cannot create extension ${e.name} as ${e.owner} on the private server: ${msg}`,
        );
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
