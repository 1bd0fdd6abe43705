// spec.check.seedTables: when the check runs on the schema alone (no
// rehearsal), the rows of a few named lookup tables are copied into the shadow
// after the schema, so a data migration reading a seeded row can be checked.
// The capture reads them with one `pg_dump --data-only` (one snapshot, ACCESS
// SHARE like any dump), at most SEED_MAX_BYTES of tables in all; the check
// loads them as the shadow's superuser with triggers off (a foreign key to a
// table not copied does not reject the rows).
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../../crds/job-result.js';
import { SEED_MAX_BYTES } from '../../../crds/spec/seed-tables.js';
import type { Config } from '../config.js';
import { quoteIdent } from '../db.js';
import { runTool } from '../pgtools.js';
import type { Capture } from './capture.js';
import { loadSchema, type Rows } from './schema.js';

export interface SeedCapture {
  /** Copied, `schema.table`. */
  tables: string[];
  /** Named in spec.check.seedTables but not a table on the target. */
  missing: string[];
  /** Named but not copied, with why. */
  skipped: Array<{ table: string; reason: string }>;
  /** pg_total_relation_size of the copied tables. */
  bytes: number;
}

const SEED_FILE = 'seed.sql';

/** `schema.table` as SQL folds an unquoted name; a bare name is in the migrations' schema. */
export function seedName(cfg: Config, name: string): [string, string] {
  const dot = name.indexOf('.');
  const schema = dot >= 0 ? name.slice(0, dot) : (cfg.MIGRATIONS_SCHEMA ?? 'public');
  return [schema.toLowerCase(), (dot >= 0 ? name.slice(dot + 1) : name).toLowerCase()];
}

/** The capture's part: called when the rows are not copied whole. */
export async function dumpSeed(cfg: Config, q: Rows, dir: string): Promise<SeedCapture | undefined> {
  if (cfg.SEED_TABLES.length === 0) return undefined;
  const seed: SeedCapture = { tables: [], missing: [], skipped: [], bytes: 0 };
  const migrations = seedName(cfg, cfg.MIGRATIONS_TABLE).join('.');
  for (const name of new Set(cfg.SEED_TABLES.map((n) => seedName(cfg, n).join('.')))) {
    const [schema = '', table = ''] = name.split('.');
    const [r] = await q(
      `SELECT c.relkind::text AS kind, pg_total_relation_size(c.oid)::float8 AS b
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, table],
    );
    const bytes = Number(r?.b ?? 0);
    if (!r || !['r', 'p'].includes(String(r.kind))) seed.missing.push(name);
    else if (name === migrations)
      seed.skipped.push({ table: name, reason: 'the migrations table: its rows are copied anyway' });
    else if (r.kind === 'p')
      seed.skipped.push({ table: name, reason: 'a partitioned table: name its partitions' });
    else if (seed.bytes + bytes > SEED_MAX_BYTES)
      seed.skipped.push({
        table: name,
        reason: `${bytes} bytes would take the copied tables past ${SEED_MAX_BYTES} bytes`,
      });
    else {
      seed.tables.push(name);
      seed.bytes += bytes;
    }
  }
  if (seed.tables.length === 0) return seed;
  await runTool(cfg, 'pg_dump', [
    '--data-only',
    '--disable-triggers',
    '--no-publications',
    '--no-subscriptions',
    '--no-security-labels',
    `--lock-wait-timeout=${Math.max(1, cfg.LOCK_TIMEOUT_SECONDS)}s`,
    ...seed.tables.flatMap((t) => ['-t', t.split('.').map(quoteIdent).join('.')]),
    '-f',
    join(dir, `${SEED_FILE}.tmp`),
    '-d',
    cfg.PGDATABASE,
  ]);
  renameSync(join(dir, `${SEED_FILE}.tmp`), join(dir, SEED_FILE));
  return seed;
}

/** Names for a note: the first 10, then how many more. */
export function seedList(tables: readonly string[]): string {
  const more = tables.length > 10 ? ` and ${tables.length - 10} more` : '';
  return `${tables.slice(0, 10).join(', ')}${more}`;
}

/** The check's part: loads the seeded rows into the shadow (as its superuser); returns the load's errors. */
export async function loadSeed(
  cfg: Config,
  admin: Config,
  dir: string,
  cap: Capture,
  shadowMajor: number,
): Promise<string[]> {
  const file = join(dir, SEED_FILE);
  if (!cap.seed || cap.seed.tables.length === 0 || !existsSync(file)) return [];
  return loadSchema(cfg, admin, { file }, shadowMajor);
}

/** What the check says of the seeding: a table not found, not copied, or rows that did not load. */
export function seedFindings(cap: Capture, loadErrors: readonly string[], migration: string): Finding[] {
  const seed = cap.seed;
  if (!seed) return [];
  const base = { category: 'incomplete', severity: 'warning', migration } as const;
  return [
    ...seed.missing.map((t) => ({
      ...base,
      rule: 'seed-table-missing',
      message: `spec.check.seedTables names ${t}, which is not a table on the target: no rows copied for it`,
      hint: 'Fix or remove the name in spec.check.seedTables (schema.table; a bare name is in the migrations schema).',
    })),
    ...seed.skipped.map((s) => ({
      ...base,
      rule: 'seed-table-skipped',
      message: `spec.check.seedTables: ${s.table} not copied: ${s.reason}`,
    })),
    ...(loadErrors.length > 0
      ? [
          {
            ...base,
            rule: 'seed-load-failed',
            message: `spec.check.seedTables: ${loadErrors.length} error(s) loading the seeded rows into the shadow: ${loadErrors[0]?.slice(0, 200) ?? ''}`,
          },
        ]
      : []),
  ];
}
