// The target database's identity, as the server knows it, not as a host is
// spelled: the cluster's system_identifier (where the role may read it) and the
// database's oid. Two resources reaching one database through another Secret,
// a host alias or an IP get the same identity, so the operator runs them one at
// a time; two databases that share a spelling (short Service names in two
// namespaces) get different ones.
import { createHash } from 'node:crypto';
import type { DatabaseIdentity } from '../../crds/job-result.js';

type Rows = <T>(sql: string) => Promise<T[]>;

export async function databaseIdentity(rows: Rows): Promise<DatabaseIdentity> {
  const [db] = await rows<{ oid: string; name: string; addr: string | null; port: number | null }>(
    `SELECT d.oid::text AS oid, d.datname AS name, host(inet_server_addr()) AS addr, inet_server_port() AS port
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  // pg_control_system() may be reserved to superusers and pg_monitor: then the server's address stands in.
  const sys = await rows<{ id: string }>(
    `SELECT system_identifier::text AS id FROM pg_control_system()`,
  ).catch(() => [] as { id: string }[]);
  const server = sys[0]?.id ? `system:${sys[0].id}` : `addr:${db?.addr ?? 'local'}:${db?.port ?? 0}`;
  const key = `${server}/${db?.oid ?? '?'}`;
  return {
    key: createHash('sha256').update(key).digest('hex').slice(0, 32),
    server,
    databaseOid: Number(db?.oid ?? 0),
  };
}
