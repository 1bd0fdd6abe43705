// A trace per statement on the shadow: which relation locks the statement's
// backend took (pg_locks of its own pid, which a transaction keeps until its
// end) and which existing tables it rewrote (relfilenode changed). Joined with
// the target's sizes, each becomes an impact a person can weigh.
import { scrubSql } from '../scrub.js';
import type { Finding } from '../../../crds/job-result.js';
import type { Rows, TargetStats } from './schema.js';

export interface TracedStatement {
  migration: string;
  /** 0-based index of the statement among the migration's captured queries. */
  index: number;
  sql: string;
  /** Relation locks taken by this statement, "MODE schema.table". */
  locks: string[];
  /** Existing tables whose storage this statement replaced. */
  rewrites: string[];
  /** Statements that ran later while this statement's strongest lock was still held. */
  heldAcross: number;
  ms: number;
}

// Both in one round trip: the locks this backend holds ('l', "MODE schema.table") and each
// table's storage ('n', schema.table, relfilenode).
const STATE_SQL = `
SELECT 'l' AS k, l.mode || ' ' || n.nspname || '.' || c.relname AS a, NULL::text AS b
  FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND c.relkind IN ('r', 'p', 'm')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
UNION ALL
SELECT 'n', n.nspname || '.' || c.relname, c.relfilenode::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'`;

/** Lock modes that block the application's reads or writes, strongest first. */
export const BLOCKING_MODES = ['AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock'];
const READABLE: Record<string, string> = {
  AccessExclusiveLock: 'ACCESS EXCLUSIVE (blocks reads and writes)',
  ExclusiveLock: 'EXCLUSIVE (blocks writes)',
  ShareRowExclusiveLock: 'SHARE ROW EXCLUSIVE (blocks writes)',
  ShareLock: 'SHARE (blocks writes)',
};

export class Tracer {
  readonly statements: TracedStatement[] = [];
  private held = new Set<string>();
  private nodes = new Map<string, string>();
  /** Indexes (into statements) of statements whose blocking locks are still held. */
  private open: number[] = [];

  constructor(private readonly q: Rows) {}

  async prime(): Promise<void> {
    ({ locks: this.held, nodes: this.nodes } = await this.state());
  }

  private async state(): Promise<{ locks: Set<string>; nodes: Map<string, string> }> {
    const locks = new Set<string>();
    const nodes = new Map<string, string>();
    for (const r of await this.q(STATE_SQL))
      if (r.k === 'l') locks.add(String(r.a));
      else nodes.set(String(r.a), String(r.b));
    return { locks, nodes };
  }

  /** After a statement ran without error: what it locked and rewrote. */
  async after(migration: string, index: number, sql: string, ms: number): Promise<void> {
    const { locks: now, nodes } = await this.state();
    const locks = [...now].filter((l) => !this.held.has(l));
    const rewrites = [...nodes]
      .filter(([rel, node]) => this.nodes.has(rel) && this.nodes.get(rel) !== node)
      .map(([rel]) => rel);
    // Statements opened earlier whose locks are still held saw one more statement run under them.
    this.open = this.open.filter((i) => {
      const s = this.statements[i]!;
      const still = s.locks.some((l) => now.has(l));
      if (still) s.heldAcross++;
      return still;
    });
    const entry: TracedStatement = {
      migration,
      index,
      sql: scrubSql(sql).slice(0, 300),
      locks,
      rewrites,
      heldAcross: 0,
      ms,
    };
    this.statements.push(entry);
    if (locks.some((l) => BLOCKING_MODES.includes(l.split(' ')[0]!)))
      this.open.push(this.statements.length - 1);
    this.held = now;
    this.nodes = nodes;
  }

  /** A transaction ended (commit or rollback): its locks are gone. */
  async settle(): Promise<void> {
    ({ locks: this.held, nodes: this.nodes } = await this.state());
    this.open = this.open.filter((i) => this.statements[i]!.locks.some((l) => this.held.has(l)));
  }
}

function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function sizeOf(stats: TargetStats, rel: string): string {
  const s = stats.relations.get(rel);
  if (!s) return 'size unknown';
  return `${s.rows === undefined ? 'never analyzed' : `${human(s.rows)} rows`}, ${bytes(s.bytes)}`;
}

/** Large enough that a rewrite or a blocking lock is an outage, not a blip. */
export function isLarge(stats: TargetStats, rel: string): boolean {
  const s = stats.relations.get(rel);
  return !!s && ((s.rows ?? 0) >= 1_000_000 || s.bytes >= 1024 ** 3);
}

/**
 * Findings from the trace, for tables that exist on the target (tables the plan
 * creates are empty and nobody uses them yet): each rewrite, and each lock that
 * blocks the app, with the target's real size.
 */
export function traceFindings(trace: TracedStatement[], stats: TargetStats): Finding[] {
  const out: Finding[] = [];
  for (const s of trace) {
    const seen = new Set<string>();
    for (const rel of s.rewrites) {
      if (!stats.relations.has(rel)) continue;
      seen.add(rel);
      out.push({
        rule: 'traced-table-rewrite',
        category: 'locking',
        severity: isLarge(stats, rel) ? 'error' : 'warning',
        migration: s.migration,
        message: `traced on the shadow: rewrites ${rel} (${sizeOf(stats, rel)} on the target) under ACCESS EXCLUSIVE${s.heldAcross > 0 ? `, held across ${s.heldAcross} more statement(s)` : ''}: ${s.sql.slice(0, 120)}`,
        hint: 'Add a new column, backfill it in batches and swap; or change to a binary-coercible type.',
        statement: s.index,
      });
    }
    for (const l of s.locks) {
      const [mode, rel] = l.split(' ') as [string, string];
      if (!BLOCKING_MODES.includes(mode) || seen.has(rel) || !stats.relations.has(rel)) continue;
      seen.add(rel);
      out.push({
        rule: 'traced-blocking-lock',
        category: 'locking',
        severity:
          isLarge(stats, rel) && (mode === 'AccessExclusiveLock' || s.heldAcross > 0) ? 'error' : 'warning',
        migration: s.migration,
        message: `traced on the shadow: ${READABLE[mode] ?? mode} on ${rel} (${sizeOf(stats, rel)} on the target)${s.heldAcross > 0 ? `, held across ${s.heldAcross} more statement(s) until the transaction ends` : ''}: ${s.sql.slice(0, 120)}`,
        hint: 'Keep statements that take strong locks in their own short transaction, with a lock_timeout; use CONCURRENTLY / NOT VALID variants.',
        statement: s.index,
      });
    }
  }
  return out;
}
