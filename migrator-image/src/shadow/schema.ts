// What the check takes from the target, and only that: its schema (a
// `pg_dump --schema-only`, which holds ACCESS SHARE like any schema dump), the
// rows of the migrations table (so the shadow knows what is applied), and its
// statistics (row estimates and sizes), which turn a trace into an impact.
import { spawn } from 'node:child_process';
import type { Config } from '../config.js';
import { quoteIdent } from '../db.js';
import { childEnv, runTool, toolPath, TRANSACTION_TIMEOUT_SET } from '../pgtools.js';
import { MigratorError } from '../result.js';
import { scrub } from '../scrub.js';
import { trackChild } from '../shutdown.js';

export type Rows = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

export interface RelationStats {
  /** Estimated rows (pg_class.reltuples); undefined when the table was never analyzed. */
  rows?: number;
  /** pg_total_relation_size: heap, indexes and TOAST. */
  bytes: number;
}

export interface TargetStats {
  serverVersion: string;
  major: number;
  /** By qualified name, `schema.table`. */
  relations: Map<string, RelationStats>;
}

export async function readTargetStats(q: Rows): Promise<TargetStats> {
  const [v] = await q(
    `SELECT current_setting('server_version') AS v, current_setting('server_version_num')::int AS n`,
  );
  const rels = await q(
    `SELECT n.nspname AS schema, c.relname AS name, c.reltuples::float8 AS rows,
            pg_total_relation_size(c.oid)::float8 AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'm')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'`,
  );
  const relations = new Map<string, RelationStats>();
  for (const r of rels) {
    const rows = Number(r.rows);
    relations.set(`${String(r.schema)}.${String(r.name)}`, {
      rows: rows >= 0 ? Math.round(rows) : undefined,
      bytes: Number(r.bytes),
    });
  }
  const num = Number(v?.n ?? 0);
  return {
    serverVersion: String(v?.v ?? ''),
    major: num >= 100000 ? Math.floor(num / 10000) : Math.floor(num / 100) / 10,
    relations,
  };
}

/** The target's schema as SQL; waits for its ACCESS SHARE locks no longer than lock_timeout. */
export async function dumpSchema(cfg: Config): Promise<string> {
  const out = await runTool(cfg, 'pg_dump', [
    '--schema-only',
    '--no-owner',
    '--no-privileges',
    '--no-publications',
    '--no-subscriptions',
    '--no-security-labels',
    `--lock-wait-timeout=${Math.max(1, cfg.LOCK_TIMEOUT_SECONDS)}s`,
    '-d',
    cfg.PGDATABASE,
  ]);
  return out.stdout;
}

/**
 * Loads a schema dump into the shadow with psql. Statements the shadow cannot
 * run (an extension the image lacks) do not stop the load: they are returned,
 * and the plan reports the check as incomplete for them.
 */
export function loadSchema(cfg: Config, shadow: Config, sql: string, shadowMajor: number): Promise<string[]> {
  // pg_dump 17+ sets transaction_timeout, which older shadow servers reject.
  const script =
    shadowMajor < 17
      ? sql
          .split('\n')
          .filter((l) => l.trim() !== TRANSACTION_TIMEOUT_SET)
          .join('\n')
      : sql;
  return new Promise((resolve, reject) => {
    const psql = spawn(
      toolPath(cfg, 'psql'),
      ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', shadow.PGDATABASE, '-f', '-'],
      {
        env: { ...childEnv(shadow), PGOPTIONS: '-c client_min_messages=error' },
        stdio: ['pipe', 'ignore', 'pipe'],
      },
    );
    trackChild(psql);
    const err: Buffer[] = [];
    psql.stderr.on('data', (b: Buffer) => err.push(b));
    psql.stdin.on('error', () => undefined);
    psql.on('error', (e) => reject(new MigratorError(`cannot run psql: ${e.message}`)));
    psql.on('close', (code) => {
      const errors = scrub(Buffer.concat(err).toString('utf8'))
        .split('\n')
        .filter((l) => /ERROR:/.test(l))
        .map((l) => l.replace(/^psql:<stdin>:\d+: /, '').trim());
      if (code !== 0 && errors.length === 0)
        return reject(new MigratorError(`psql exited ${code} loading the schema into the shadow`));
      resolve(errors);
    });
    psql.stdin.end(script);
  });
}

/** Copies the migrations table's rows (their ids too) and moves its id sequence past them. */
export async function copyMigrationRows(target: Rows, shadow: Rows, table: string): Promise<number> {
  const [reg] = await target(`SELECT to_regclass($1) AS reg`, [table]);
  if (!reg?.reg) return 0;
  const rows = await target(`SELECT coalesce(json_agg(t), '[]'::json) AS rows FROM ${table} t`);
  const json = JSON.stringify(rows[0]?.rows ?? []);
  await shadow(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(null::${table}, $1::json)`, [
    json,
  ]);
  const seqCols = await shadow(
    `SELECT a.attname AS col FROM pg_attribute a
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
        AND pg_get_serial_sequence($1::text, a.attname::text) IS NOT NULL`,
    [table],
  );
  for (const { col } of seqCols) {
    const c = quoteIdent(String(col));
    await shadow(
      `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(${c}) FROM ${table}), 0) + 1, false)`,
      [table, String(col)],
    );
  }
  return JSON.parse(json).length as number;
}
