// verify: nothing pending; applied migrations still present, unchanged since
// applied (history checksums) and applied in order; VERIFY_QUERIES all true.
import type { JobResult, VerifyRecord } from '../../../crds/job-result.js';
import type { Config } from '../config.js';
import { log } from '../log.js';
import { MigratorError } from '../result.js';
import { executorFor, latestHistory, openSession, type Session } from '../session.js';
import { checkVerifyQueries, runVerifyQueries, type RawQueryRunner } from '../verify-queries.js';

export async function verifySession(s: Session): Promise<VerifyRecord> {
  const ex = executorFor(s);
  const pending = (await ex.getPendingMigrations()).map((m) => m.name);
  const executed = (await ex.getExecutedMigrations()).sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const problems: string[] = [];

  const recorded = new Map<string, string | null>();
  const executedNames = new Set(executed.map((m) => m.name));
  for (const [name, h] of await latestHistory(s)) {
    if (h.direction === 'up') recorded.set(name, h.checksum);
    // Started outside a transaction and never recorded as applied: what it did before it stopped is still there.
    if (h.direction === 'reverting' && executedNames.has(name))
      problems.push(
        `migration ${name}'s down() started outside a transaction at ${h.at} and did not finish: it may be half-reverted (still recorded as applied); compare the schema with its down() before retrying`,
      );
    if (h.direction === 'started' && !executedNames.has(name))
      problems.push(
        `migration ${name} started outside a transaction at ${h.at} and was never recorded as applied: it may be half-applied; compare the schema with its up() before retrying`,
      );
  }

  let latest: { name: string; timestamp: number } | undefined;
  for (const m of executed) {
    const file = s.byName.get(m.name);
    if (!file) problems.push(`applied migration ${m.name} has no file in the migrations directory`);
    else {
      const was = recorded.get(m.name);
      if (was && was !== file.checksum) {
        problems.push(
          `migration ${m.name} changed since it was applied (checksum ${was.slice(0, 12)} now ${file.checksum.slice(0, 12)})`,
        );
      }
    }
    if (latest && m.timestamp < latest.timestamp) {
      problems.push(`migration ${m.name} was applied out of order (after the newer ${latest.name})`);
    }
    if (!latest || m.timestamp > latest.timestamp) latest = { name: m.name, timestamp: m.timestamp };
  }

  // One SELECT each, in a READ ONLY transaction rolled back (verify-queries.ts).
  problems.push(...(await runVerifyQueries(s.qr as unknown as RawQueryRunner, s.cfg.VERIFY_QUERIES)));
  log.info({ pending: pending.length, problems }, 'verification finished');
  return { pending, problems };
}

export function verifyVerdict(v: VerifyRecord): MigratorError | undefined {
  if (v.pending.length === 0 && v.problems.length === 0) return undefined;
  const first = v.problems[0] ?? `${v.pending.length} migration(s) pending, first ${v.pending[0]}`;
  return new MigratorError(
    `verification failed: ${first}${v.problems.length > 1 ? ` (and ${v.problems.length - 1} more)` : ''}`,
  );
}

export async function verify(cfg: Config, res: JobResult): Promise<void> {
  // Refused before connecting: a query that is not one SELECT never reaches the database.
  await checkVerifyQueries(cfg.VERIFY_QUERIES);
  const s = await openSession(cfg, { lock: false });
  try {
    res.verify = await verifySession(s);
    const bad = verifyVerdict(res.verify);
    if (bad) throw bad;
  } finally {
    await s.close();
  }
}
