// The target side of the check (see capture.ts): its schema (a
// `pg_dump --schema-only`, which holds ACCESS SHARE like any schema dump), the
// rows of the migrations table (so the shadow knows what is applied), and its
// statistics (row estimates and sizes), which turn a trace into an impact.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import type { Config } from '../config.js';
import { childEnv, headerFilter, runTool, toolPath, TRANSACTION_TIMEOUT_SET } from '../pgtools.js';
import { MigratorError } from '../result.js';
import { scrub } from '../scrub.js';
import { trackChild } from '../shutdown.js';
import { HeaderIndex, locateErrors, type LocatedError } from './gaps.js';

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

/** The target's schema as SQL, with owners and grants; waits for its ACCESS SHARE locks no longer than lock_timeout. */
export async function dumpSchema(cfg: Config): Promise<string> {
  const out = await runTool(cfg, 'pg_dump', [
    '--schema-only',
    // Owners and grants kept: the shadow has the target's roles, and the migrations run as its role.
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
 * Loads a dump (the schema, or the whole database for a rehearsal, as a file)
 * into the shadow with psql. Statements the shadow cannot run (an extension the
 * image lacks) do not stop the load: they are returned, and the plan reports
 * the check as incomplete for them.
 */
export function loadSchema(
  cfg: Config,
  shadow: Config,
  source: { sql: string } | { file: string },
  shadowMajor: number,
  /** Filled with each error and the relation whose DDL it is (see gaps.ts). */
  located?: LocatedError[],
): Promise<string[]> {
  const index = new HeaderIndex();
  // pg_dump 17+ sets transaction_timeout, which older shadow servers reject.
  const drop = shadowMajor < 17 ? [TRANSACTION_TIMEOUT_SET] : [];
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
      const stderr = scrub(Buffer.concat(err).toString('utf8'));
      located?.push(...locateErrors(stderr, index));
      const errors = stderr
        .split('\n')
        .filter((l) => /ERROR:/.test(l))
        .map((l) => l.replace(/^psql:<stdin>:\d+: /, '').trim());
      if (code !== 0 && errors.length === 0)
        return reject(new MigratorError(`psql exited ${code} loading the schema into the shadow`));
      resolve(errors);
    });
    const headerOnly = headerFilter(drop);
    const filter = (b: Buffer | null): Buffer => {
      const out = headerOnly(b);
      index.feed(out);
      return out;
    };
    if ('sql' in source) {
      psql.stdin.end(filter(Buffer.from(source.sql)).toString('utf8') + filter(null).toString('utf8'));
      return;
    }
    const input = createReadStream(source.file);
    input.on('data', (b) => {
      if (!psql.stdin.write(filter(b as Buffer))) {
        input.pause();
        psql.stdin.once('drain', () => input.resume());
      }
    });
    input.on('end', () => psql.stdin.end(filter(null)));
    input.on('error', (e) => {
      psql.kill();
      reject(new MigratorError(`cannot read ${source.file}: ${e.message}`));
    });
  });
}
