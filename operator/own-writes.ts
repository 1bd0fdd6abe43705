// The controller's own last write of a resource, kept until its informer has
// caught up (the cache can lag behind a write the controller just made).
import type { DatabaseMigration } from '../crds/database-migration.js';

/** What is kept of our own write: its identity, resourceVersion and status (not spec, not managedFields). */
export type OwnWrite = Pick<DatabaseMigration, 'status'> & {
  metadata: Pick<DatabaseMigration['metadata'], 'uid' | 'resourceVersion'>;
};

export function ownWrite(dm: DatabaseMigration): OwnWrite {
  return {
    metadata: { uid: dm.metadata.uid, resourceVersion: dm.metadata.resourceVersion },
    ...(dm.status ? { status: dm.status } : {}),
  };
}

/** Our write is of this very object and newer than the cached copy. */
export function newer(mine: OwnWrite, cached: DatabaseMigration): boolean {
  if (mine.metadata.uid !== cached.metadata.uid) return false;
  const a = Number(cached.metadata.resourceVersion);
  const b = Number(mine.metadata.resourceVersion);
  return Number.isFinite(a) && Number.isFinite(b) && b > a;
}
