// At most one active run per target database across all DatabaseMigrations:
// by its spelling (host:port/database, or the connection Secret namespace/name,
// which the operator never reads) from the start of a run, and by its identity
// (the server's system_identifier and the database oid, read by the check) from
// then on, so aliases and other Secrets to one database wait for each other.
// Claims are in memory on the leader and rebuilt from the resources' status
// when it starts; the migrator's PostgreSQL advisory lock backs this up if two
// operators ever overlapped.
import {
  targetKeyOf,
  type DatabaseMigration,
  type DatabaseMigrationStatus,
} from '../crds/database-migration.js';

export class TargetLocks {
  private readonly holders = new Map<string, string>();

  holder(target: string): string | undefined {
    return this.holders.get(target);
  }

  /** Claims `target` for `key`; returns the other holder if someone else has it. */
  claim(target: string, key: string): string | undefined {
    const current = this.holders.get(target);
    if (current !== undefined && current !== key) return current;
    this.holders.set(target, key);
    return undefined;
  }

  /** Releases every target held by `key`; returns the targets released. */
  releaseAll(key: string): string[] {
    const released: string[] = [];
    for (const [target, holder] of this.holders) {
      if (holder === key) {
        this.holders.delete(target);
        released.push(target);
      }
    }
    return released;
  }

  heldBy(key: string): string[] {
    return [...this.holders].filter(([, holder]) => holder === key).map(([target]) => target);
  }
}

/** The lock of the database by its identity (status.databaseIdentity), apart from the spelled targets. */
export function identityLock(status: DatabaseMigrationStatus | undefined): string | undefined {
  return status?.databaseIdentity?.key ? `database:${status.databaseIdentity.key}` : undefined;
}

export function safeTarget(dm: DatabaseMigration): string | undefined {
  // The live spec may be invalid here (the reconciler reports it): read only well-typed fields.
  const db = (dm.spec as { database?: Record<string, unknown> } | undefined)?.database;
  if (!db) return undefined;
  const ref = db.connectionSecretRef as { name?: unknown } | undefined;
  return targetKeyOf(
    {
      ...(ref && typeof ref.name === 'string' ? { connectionSecretRef: { name: ref.name } } : {}),
      ...(typeof db.host === 'string' ? { host: db.host } : {}),
      ...(typeof db.database === 'string' ? { database: db.database } : {}),
      port: typeof db.port === 'number' ? db.port : 5432,
    },
    dm.metadata.namespace,
  );
}
