// Approval by checksums: the check records the sha256 of each pending
// migration's file (loader.ts computes it as `checksum`), the operator freezes
// them with the run, and migrate refuses to start when a pending file differs
// or a pending migration was not in the plan: what was checked (and maybe
// approved by its hash) is exactly what runs, even if the image or ConfigMap
// changed in between.
import { createHash } from 'node:crypto';
import type { LoadedMigration } from './loader.js';
import { MigratorError } from './result.js';

/**
 * The plan's checksums: each pending migration's file sha256, by name, in the
 * order given (the check calls it with its pending names and Session.byName).
 */
export function planChecksums(
  pending: readonly string[],
  byName: ReadonlyMap<string, Pick<LoadedMigration, 'checksum'>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of pending) {
    const loaded = byName.get(name);
    // TypeORM only knows migrations the loader loaded: a miss is a bug, not a plan.
    if (!loaded) throw new MigratorError(`pending migration ${name} has no loaded file`, name);
    out[name] = loaded.checksum;
  }
  return out;
}

/**
 * One digest over the whole plan (every pending name and its file's sha256, in
 * order): it travels in full however long the plan, so migrate proves every
 * file even when the checksums list was cut to fit the 4 KiB result.
 */
export function planDigest(
  names: readonly string[],
  byName: ReadonlyMap<string, Pick<LoadedMigration, 'checksum'>>,
): string {
  const h = createHash('sha256');
  for (const name of names) h.update(`${name} ${byName.get(name)?.checksum ?? '(none)'}\n`);
  return h.digest('hex');
}

/** What the run's check saw: checksums by name (possibly fewer than all, if its result was cut), how many were pending, and the digest of all. */
export interface ExpectedPlan {
  checksums: Record<string, string>;
  pendingCount?: number;
  digest?: string;
}

/**
 * Refuses (throws, naming the migration) when the migrations pending now are
 * not the checked ones: a file whose sha256 differs, a migration the plan did
 * not have, or another number of them. A plan with fewer checksums than
 * pending migrations (a cut result) still checks every name it has and the count.
 */
export function assertPlanUnchanged(
  expected: ExpectedPlan,
  pendingNow: readonly string[],
  byName: ReadonlyMap<string, Pick<LoadedMigration, 'checksum'>>,
  /** Migrations of the plan this same run already applied (a re-created Job), oldest first. */
  appliedByThisRun: readonly string[] = [],
): void {
  const plan = [...appliedByThisRun, ...pendingNow];
  const complete =
    expected.pendingCount === undefined || Object.keys(expected.checksums).length >= expected.pendingCount;
  for (const name of plan) {
    const want = expected.checksums[name];
    const have = byName.get(name)?.checksum;
    if (want === undefined) {
      if (complete)
        throw new MigratorError(
          `migration ${name} is pending but was not in the checked plan: run the check again (retry) before migrating`,
          name,
        );
      continue;
    }
    if (want !== have)
      throw new MigratorError(
        `migration ${name} changed since the check: its file has sha256 ${short(have)}, the checked plan ${short(want)}; run the check again (retry) before migrating`,
        name,
      );
  }
  if (expected.pendingCount !== undefined && plan.length !== expected.pendingCount)
    throw new MigratorError(
      `${pendingNow.length} migration(s) pending now${appliedByThisRun.length ? ` (and ${appliedByThisRun.length} applied by this run)` : ''}, ${expected.pendingCount} in the checked plan: run the check again (retry) before migrating`,
    );
  if (expected.digest !== undefined && planDigest(plan, byName) !== expected.digest)
    throw new MigratorError(
      `the pending migrations' files differ from the checked plan (digest ${short(planDigest(plan, byName))}, checked ${short(expected.digest)}): run the check again (retry) before migrating`,
    );
}

function short(sha: string | undefined): string {
  return sha ? sha.slice(0, 12) : '(none)';
}
