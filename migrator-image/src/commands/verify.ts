// verify: nothing pending; applied migrations still present, unchanged since
// applied (history checksums) and applied in order; VERIFY_QUERIES all true.
import type { JobResult, VerifyRecord } from '../../../crds/job-result.js';
import type { Config } from '../config.js';
import { log } from '../log.js';
import { MigratorError } from '../result.js';
import { executorFor, latestHistory, openSession, type Session } from '../session.js';

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

  if (s.cfg.VERIFY_QUERIES.length > 0) {
    await s.qr.query('BEGIN READ ONLY');
    try {
      for (const [i, q] of s.cfg.VERIFY_QUERIES.entries()) {
        await s.qr.query('SAVEPOINT dbmigrate_verify');
        try {
          const rows = (await s.qr.query(q)) as Array<Record<string, unknown>>;
          const first = rows[0];
          const values = first ? Object.values(first) : [];
          const v = values[0];
          if (rows.length !== 1 || values.length !== 1 || !(v === true || v === 't')) {
            problems.push(`verification query ${i + 1} did not return a single true value`);
          }
        } catch (err) {
          await s.qr.query('ROLLBACK TO SAVEPOINT dbmigrate_verify');
          problems.push(
            `verification query ${i + 1} failed: ${String((err as Error).message).split('\n')[0]}`,
          );
        }
      }
    } finally {
      await s.qr.query('ROLLBACK');
    }
  }
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
  const s = await openSession(cfg, { lock: false });
  try {
    res.verify = await verifySession(s);
    const bad = verifyVerdict(res.verify);
    if (bad) throw bad;
  } finally {
    await s.close();
  }
}
