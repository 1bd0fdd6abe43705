// What the check concludes beyond the lint: the approval hash, an incomplete
// check, an irreversible down(), and the catalog differences a down() leaves.
import type { createHash } from 'node:crypto';
import type { Finding, PlanRecord } from '../../../crds/job-result.js';
import type { CatalogDiff } from './catalog.js';
import { MigratorError } from '../result.js';

/** The approval hash: the files' digest (hashed first), each finding's rule, migration and statement, what was not reached. */
export function planHash(h: ReturnType<typeof createHash>, plan: PlanRecord): string {
  for (const f of plan.findings) h.update(`-- finding ${f.rule} ${f.migration} ${f.statement ?? '-'}\n`);
  for (const n of plan.notCaptured) h.update(`-- not captured ${n.migration}\n`);
  return h.digest('hex');
}

/** The check saw less than the plan: schema the shadow could not load, statements it could not trace (informational; gaps.ts blocks a migration touching what did not load). */
export function incompleteFinding(
  schemaErrors: number,
  captured: ReadonlyMap<string, string[]>,
  traced: number,
  pending: readonly string[],
): Finding[] {
  const statements = [...captured.values()].reduce((n, s) => n + s.length, 0);
  const parts: string[] = [];
  if (schemaErrors > 0)
    parts.push(`${schemaErrors} statement(s) of the target's schema failed on the shadow`);
  if (statements > 0 && traced < statements)
    parts.push(`${statements - traced} of ${statements} statement(s) not traced`);
  if (parts.length === 0) return [];
  return [
    {
      rule: 'check-incomplete',
      category: 'incomplete',
      severity: 'warning',
      migration: pending[pending.length - 1] ?? '',
      message: `the check is incomplete: ${parts.join('; ')} (status.plan.shadow lists the first errors)`,
      hint: 'Give spec.check.shadow a server with the extensions the target uses, or add "incomplete" to spec.safety.block to stop such runs.',
    },
  ];
}

export function irreversible(migration: string, message: string): Finding {
  return {
    rule: 'irreversible-down',
    category: 'irreversible',
    severity: 'error',
    migration,
    message,
    hint: 'Write a down() that restores exactly what up() changed, or mark the migration as one that a revert must not cross.',
  };
}

export /** Entries of `d` not already explained by an earlier (later-migration) leftover. */
function minus(d: CatalogDiff, carried: CatalogDiff): CatalogDiff {
  const a = new Set(carried.added);
  const r = new Set(carried.removed);
  return { added: d.added.filter((l) => !a.has(l)), removed: d.removed.filter((l) => !r.has(l)) };
}

/** A pending migration failed on the copy of the target's rows: production would fail the same way. */
export function rehearsalFailed(failure: unknown, captured: ReadonlyMap<string, string[]>): Finding {
  const e = failure as {
    migration?: string;
    message?: string;
    code?: string;
    driverError?: { code?: string };
  };
  const migration = e.migration ?? '';
  const sqls = captured.get(migration) ?? [];
  const code = e.code ?? e.driverError?.code;
  return {
    rule: 'rehearsal-failed',
    category: 'rehearsal',
    severity: 'error',
    migration,
    message: `fails on a copy of the target's rows${code ? ` (${code})` : ''}: ${String(e.message ?? failure).split('\n')[0]}`,
    hint: 'Fix the data first (or make the migration handle it), then check again; the target was not touched.',
    ...(sqls.length > 0 ? { statement: sqls.length - 1 } : {}),
  };
}

/**
 * A migration that failed on the schema alone with a JavaScript error, not an
 * SQL one (reading a row the empty shadow does not have): it needs data to be
 * checked, which the rehearsal gives; undefined for any other failure.
 */
export function needsData(failure: unknown, captured: ReadonlyMap<string, string[]>): Finding | undefined {
  const e = failure as { name?: string; message?: string; migration?: string };
  if (e?.name !== 'TypeError' || !e.migration) return undefined;
  const sqls = captured.get(e.migration) ?? [];
  return {
    rule: 'needs-data',
    category: 'incomplete',
    severity: 'warning',
    migration: e.migration,
    message: `fails on the schema alone, which has no rows: ${String(e.message).split('\n')[0]}; the migrations after it were not checked`,
    hint: 'Let the check copy the rows (spec.check.rehearsal.maxSize above the database size) to rehearse it on real data, or name the lookup tables it reads in spec.check.seedTables.',
    ...(sqls.length > 0 ? { statement: sqls.length - 1 } : {}),
  };
}

/**
 * TypeORM refuses, before running anything, a plan where a migration sets
 * `transaction = false` while the global mode is "all". Not a data problem: a
 * setting to change, named as such (Misskey's history needs mode "each").
 */
export function modeRefusal(err: unknown): MigratorError | undefined {
  const m =
    /Migrations? "([^"]+)" overrides? the transaction mode, but the global transaction mode is "all"/.exec(
      String((err as { message?: unknown })?.message ?? ''),
    );
  if (!m) return undefined;
  return new MigratorError(
    `spec.migrations.transactionMode is "all", but ${m[1]} sets transaction = false, which TypeORM refuses in that mode: set spec.migrations.transactionMode to "each" (each migration in its own transaction) or "none"`,
    m[1]?.split(',')[0]?.trim(),
  );
}
