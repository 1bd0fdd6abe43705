// At most one active run per target database (host:port/database, or the
// connection Secret namespace/name, which the operator never reads) across all
// DatabaseMigrations. Claims are in memory on the leader and rebuilt from the
// resources' status when it starts; the migrator's PostgreSQL advisory lock
// backs this up if two operators ever overlapped.
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
