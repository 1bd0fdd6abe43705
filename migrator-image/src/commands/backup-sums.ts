// What a backup is proven against: per table, the row count and an
// order-independent checksum of the rows' text, taken in the snapshot pg_dump
// dumps (backup.ts) and again after the proof's restore (backup-proof.ts), in
// its transaction before COMMIT. Both sides pin the settings that change how a
// value prints, so equal rows give equal sums whatever the sessions' defaults.
import type pg from 'pg';

/**
 * Output-affecting settings, pinned on both sides. search_path '' is what
 * pg_restore's script leaves in its session; regclass-like values then print
 * schema-qualified on both sides.
 */
export const PINNED_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['DateStyle', 'ISO, MDY'],
  ['TimeZone', 'UTC'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  ['search_path', ''],
];

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** `SET [LOCAL] name = 'value'` for every pinned setting. */
export function pinSettingsSql(local: boolean): string {
  return PINNED_SETTINGS.map(([k, v]) => `SET ${local ? 'LOCAL ' : ''}${k} = ${lit(v)};`).join('\n');
}

/**
 * count and checksum of one table (a key as format('%I.%I') writes it).
 * ROW(dbm_r.*) is the whole row even when a column is named like the alias;
 * the sum of 64-bit hashes does not depend on the rows' order (PostgreSQL 11+).
 */
export function sumsQuery(table: string): string {
  return `SELECT count(*) AS n, coalesce(sum(pg_catalog.hashtextextended(ROW(dbm_r.*)::text, 0)::numeric), 0)::text AS h FROM ${table} dbm_r`;
}

export interface TableSums {
  counts: Record<string, number>;
  /** Absent when only counts were taken (no proof will run). */
  checksums?: Record<string, string>;
}

/** Counts (and checksums) of `tables` in the current transaction; the settings are pinned for it only. */
export async function snapshotSums(
  q: pg.Client,
  tables: string[],
  withChecksums: boolean,
): Promise<TableSums> {
  const counts: Record<string, number> = {};
  if (!withChecksums) {
    for (const t of tables) {
      const r = await q.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`);
      counts[t] = Number(r.rows[0]?.n ?? 0);
    }
    return { counts };
  }
  await q.query(pinSettingsSql(true));
  const checksums: Record<string, string> = {};
  for (const t of tables) {
    const r = await q.query<{ n: string; h: string }>(sumsQuery(t));
    counts[t] = Number(r.rows[0]?.n ?? 0);
    checksums[t] = r.rows[0]?.h ?? '0';
  }
  return { counts, checksums };
}

/** A dollar-quoted SQL literal whose tag the text cannot close. */
function dollar(text: string): string {
  let tag = 'dbm';
  while (text.includes(`$${tag}$`)) tag += 'x';
  return `$${tag}$${text}$${tag}$`;
}

/**
 * SQL that raises, naming the first table whose restored count or checksum
 * differs from the snapshot's: run before the proof's COMMIT, after pinning the
 * same settings (session-wide there: the script may have changed them).
 */
export function compareSumsSql(sums: Required<TableSums>): string {
  const want = JSON.stringify(
    Object.fromEntries(
      Object.keys(sums.counts).map((t) => [t, { n: sums.counts[t], h: sums.checksums[t] ?? '0' }]),
    ),
  );
  return `${pinSettingsSql(false)}
DO $dbm_proof$
DECLARE r record; n bigint; h text;
BEGIN
  FOR r IN SELECT key, (value->>'n')::bigint AS want_n, value->>'h' AS want_h FROM json_each(${dollar(want)}::json) LOOP
    EXECUTE 'SELECT count(*), coalesce(sum(pg_catalog.hashtextextended(ROW(dbm_r.*)::text, 0)::numeric), 0)::text FROM ' || r.key || ' dbm_r' INTO n, h;
    IF n <> r.want_n THEN
      RAISE EXCEPTION 'table % restored with % rows, the snapshot had %', r.key, n, r.want_n;
    END IF;
    IF h <> r.want_h THEN
      RAISE EXCEPTION 'table % restored with other row contents than the snapshot had (checksum differs, % rows on both sides)', r.key, n;
    END IF;
  END LOOP;
END $dbm_proof$;`;
}
