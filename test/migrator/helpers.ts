// Shared helpers of the migrator tests: a fresh database per test, fixture sets
// copied outside the repository, and the migrator run as a child process the
// way a Job runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { JobResult } from '../../crds/job-result.js';

export const ROOT = process.cwd();
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const MAIN = path.join(ROOT, 'migrator-image/src/main.ts');
/** The migrator as the tests run it: the sources through tsx, or DBM_TEST_MIGRATOR (a built entry, e.g. the bundle's start.mjs). */
export function migratorArgs(): string[] {
  const built = process.env.DBM_TEST_MIGRATOR;
  return built ? [built] : ['--import', 'tsx', MAIN];
}
const FIXTURES = path.join(ROOT, 'test/fixtures/migrations');

export function adminConfig(database = 'postgres'): pg.ClientConfig {
  if (!process.env.PGPORT || !process.env.PGPASSWORD)
    throw new Error('PG* env missing: the postgres globalSetup did not run');
  return {
    host: process.env.PGHOST,
    port: Number(process.env.PGPORT),
    user: process.env.PGUSER,
    password: process.env.PGPASSWORD,
    database,
  };
}

export async function withDb<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(adminConfig(database));
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createDatabase(prefix = 't'): Promise<string> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await withDb('postgres', (c) => c.query(`CREATE DATABASE ${name}`));
  return name;
}

const created: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `dbm-${prefix}-`));
  created.push(dir);
  return dir;
}

// Every test file that uses these helpers removes its temp dirs at the end.
afterAll(() => {
  for (const d of created.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Copies fixture sets into one temp directory outside the repository (no node_modules above it). */
export function migrationsDir(...sets: string[]): string {
  const dir = tempDir('migrations');
  for (const set of sets) cpSync(path.join(FIXTURES, set), dir, { recursive: true });
  return dir;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  raw: string;
  result: JobResult;
}

export function runMigrator(command: string, env: Record<string, string | undefined>): Promise<RunResult> {
  return startMigrator(command, env).done;
}

/** Starts the migrator like a Job does and hands back the child (to signal it) and its outcome. */
export function startMigrator(
  command: string,
  env: Record<string, string | undefined>,
): { child: ChildProcess; done: Promise<RunResult> } {
  const resultPath = path.join(tempDir('result'), 'result.json');
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PGHOST: process.env.PGHOST,
    PGPORT: process.env.PGPORT,
    PGUSER: process.env.PGUSER,
    PGPASSWORD: process.env.PGPASSWORD,
    // PGSSLMODE unset: the default (prefer) must fall back to plain text on this server.
    ADVISORY_LOCK_WAIT_SECONDS: '60',
    RESULT_PATH: resultPath,
    ...env,
  };
  for (const k of Object.keys(childEnv)) if (childEnv[k] === undefined) delete childEnv[k];
  const child = spawn(NODE, [...migratorArgs(), command], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = new Promise<RunResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (!existsSync(resultPath))
        return reject(new Error(`no result written (exit ${code}): ${stderr}\n${stdout}`));
      const raw = readFileSync(resultPath, 'utf8');
      const parsed = JobResult.safeParse(JSON.parse(raw));
      if (!parsed.success)
        return reject(new Error(`result breaks the contract: ${parsed.error.message}\n${raw}`));
      resolve({ code, stdout, stderr, raw, result: parsed.data });
    });
  });
  return { child, done };
}

/** Exit of a child that may leave no result (SIGKILL): code and signal only. */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}

/** Waits until one of the migrator's backends in `database` runs a statement matching `like`. */
export async function waitForStatement(database: string, like: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withDb('postgres', async (c) => {
    for (;;) {
      const r = await c.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'dbmigrate-migrator-%' AND query LIKE $2 AND state = 'active'`,
        [database, like],
      );
      if ((r.rowCount ?? 0) > 0) return;
      if (Date.now() > deadline) throw new Error(`no migrator statement like ${like} in ${database}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  });
}

/** The migrator's backends still connected to `database` (polled briefly: the server notices closed sockets). */
export async function migratorBackends(database: string): Promise<number> {
  return withDb('postgres', async (c) => {
    let n = 0;
    for (let i = 0; i < 50; i++) {
      const r = await c.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'dbmigrate-migrator-%'`,
        [database],
      );
      n = r.rows[0]?.n ?? 0;
      if (n === 0) return 0;
      await new Promise((res) => setTimeout(res, 100));
    }
    return n;
  });
}

export async function historyNames(database: string, direction = 'up'): Promise<string[]> {
  return withDb(database, async (c) =>
    (
      await c.query<{ name: string }>(`SELECT name FROM dbmigrate_history WHERE direction = $1 ORDER BY id`, [
        direction,
      ])
    ).rows.map((r) => r.name),
  );
}

export async function appliedNames(database: string, table = 'migrations'): Promise<string[]> {
  return withDb(database, async (c) => {
    const reg = await c.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [table]);
    if (!reg.rows[0]?.r) return [];
    return (await c.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`)).rows.map((r) => r.name);
  });
}

export async function tableExists(database: string, table: string): Promise<boolean> {
  return withDb(
    database,
    async (c) => !!(await c.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [table])).rows[0]?.r,
  );
}

/** md5 of every user table's rows (ordered), plus its column list: equal maps mean equal data and shape. */
export async function tableChecksums(database: string): Promise<Record<string, string>> {
  return withDb(database, async (c) => {
    const tables = (
      await c.query<{ t: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
      )
    ).rows.map((r) => r.t);
    const out: Record<string, string> = {};
    for (const t of tables) {
      const r = await c.query<{ h: string; cols: string }>(
        `SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h,
                (SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
                   FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped) AS cols
           FROM ${t} x`,
        [t],
      );
      out[t] = `${r.rows[0]?.cols}#${r.rows[0]?.h}`;
    }
    return out;
  });
}

/** Schema fingerprint: relations, columns, constraints and indexes of user schemas. */
export async function schemaFingerprint(database: string): Promise<string> {
  return withDb(database, async (c) => {
    const r = await c.query<{ f: string }>(
      `SELECT string_agg(x, E'\\n' ORDER BY x) AS f FROM (
         SELECT 'rel ' || n.nspname::text || '.' || c.relname || ' ' || c.relkind::text AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         UNION ALL
         SELECT 'col ' || attrelid::regclass::text || '.' || attname::text || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull::text FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE attnum > 0 AND NOT attisdropped AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         UNION ALL
         SELECT 'con ' || conname::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
       ) s`,
    );
    return r.rows[0]?.f ?? '';
  });
}

export function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}
