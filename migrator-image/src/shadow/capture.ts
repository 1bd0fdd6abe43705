// What the check takes from the target, written to a directory, and the only
// part of the check that holds the target's credentials: `pg_dump
// --schema-only` (ACCESS SHARE, as any schema dump), the migrations table's
// rows, the statistics that turn a trace into an impact, and the roles,
// memberships and extension owners the shadow copies so that the migrations
// run there with the target role's privileges. No migration file is loaded
// here: the code that runs migrations reads this directory and nothing else.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseIdentity } from '../../../crds/job-result.js';
import type { Config } from '../config.js';
import { acquireLock, connect, pgRows, qualified } from '../db.js';
import { databaseIdentity } from '../identity.js';
import { MigratorError } from '../result.js';
import { readTargetLook, type TargetLook } from './look.js';
import { runTool } from '../pgtools.js';
import { dumpSeed, seedList, type SeedCapture } from './seed.js';
import { dumpSchema, readTargetStats, type RelationStats, type Rows, type TargetStats } from './schema.js';

export interface Capture {
  version: 1;
  /** The target database's name (no password, no host). */
  database: string;
  /** Its roles, owners and extensions as the role the migrations run as sees them. */
  look: TargetLook;
  identity: DatabaseIdentity;
  serverVersion: string;
  major: number;
  relations: Array<[string, RelationStats]>;
  volatile: string[];
  /** Whether the rows were copied too (data.sql), for a rehearsal on real data; why not otherwise. */
  rehearsal: { data: boolean; sizeBytes: number; note?: string };
  /** spec.check.seedTables: the rows copied (seed.sql) when the rest are not. */
  seed?: SeedCapture;
  /** The migrations table's rows as JSON (ids too), or null when it does not exist yet. */
  migrationRows: string | null;
  capturedAt: string;
}

const CAPTURE_FILE = 'capture.json';
const SCHEMA_FILE = 'schema.sql';
const DATA_FILE = 'data.sql';

/** Reads the target and writes the capture into `dir` (atomically: a half-written capture is never read). */
export async function captureTarget(cfg: Config, dir: string): Promise<Capture> {
  mkdirSync(dir, { recursive: true });
  const { client } = await connect(cfg);
  try {
    const q = pgRows(client);
    // Under the migration lock: the migrations table is read between two runs, never in the middle of one.
    const unlock = await acquireLock(q, cfg);
    let migrationRows: string | null = null;
    let rehearsal: Capture['rehearsal'];
    let seed: SeedCapture | undefined;
    try {
      const table = qualified(cfg, cfg.MIGRATIONS_TABLE);
      const [reg] = await q(`SELECT to_regclass($1) AS reg`, [table]);
      if (reg?.reg) {
        const [r] = await q(
          `SELECT coalesce(json_agg(t ORDER BY t.id), '[]'::json)::text AS rows FROM ${table} t`,
        );
        migrationRows = String(r?.rows ?? '[]');
      }
      rehearsal = await dumpData(cfg, q, dir);
      if (!rehearsal.data) seed = await dumpSeed(cfg, q, dir);
      if (seed && seed.tables.length > 0)
        rehearsal.note = `${rehearsal.note ?? 'the check ran on the schema alone'}; with the rows of spec.check.seedTables ${seedList(seed.tables)}`;
    } finally {
      await unlock();
    }
    const identity = await databaseIdentity(<T>(sql: string) => q(sql) as Promise<T[]>);
    const stats = await readTargetStats(q);
    const volatile = (await q(`SELECT DISTINCT proname FROM pg_proc WHERE provolatile = 'v'`)).map((r) =>
      String(r.proname),
    );
    const capture: Capture = {
      version: 1,
      database: cfg.PGDATABASE,
      look: await readTargetLook(client),
      identity,
      serverVersion: stats.serverVersion,
      major: stats.major,
      relations: [...stats.relations.entries()],
      volatile,
      migrationRows,
      rehearsal,
      ...(seed ? { seed } : {}),
      capturedAt: new Date().toISOString(),
    };
    const schema = await dumpSchema(cfg);
    writeAtomically(join(dir, SCHEMA_FILE), schema);
    writeAtomically(join(dir, CAPTURE_FILE), JSON.stringify(capture));
    return capture;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The whole database, schema and rows (pg_dump, one snapshot, ACCESS SHARE like
 * any backup), for the rehearsal: when it is not above REHEARSAL_MAX_BYTES.
 */
async function dumpData(cfg: Config, q: Rows, dir: string): Promise<Capture['rehearsal']> {
  const [r] = await q(`SELECT pg_database_size(current_database())::float8 AS b`);
  const sizeBytes = Number(r?.b ?? 0);
  const cap = cfg.REHEARSAL_MAX_BYTES;
  if (cap === 0) return { data: false, sizeBytes, note: 'spec.check.rehearsal.maxSize is 0' };
  if (sizeBytes > cap)
    return {
      data: false,
      sizeBytes,
      note: `the database (${sizeBytes} bytes) is above spec.check.rehearsal.maxSize (${cap} bytes): the check ran on the schema alone`,
    };
  await runTool(cfg, 'pg_dump', [
    '--no-publications',
    '--no-subscriptions',
    '--no-security-labels',
    `--lock-wait-timeout=${Math.max(1, cfg.LOCK_TIMEOUT_SECONDS)}s`,
    '-f',
    join(dir, `${DATA_FILE}.tmp`),
    '-d',
    cfg.PGDATABASE,
  ]);
  renameSync(join(dir, `${DATA_FILE}.tmp`), join(dir, DATA_FILE));
  return { data: true, sizeBytes };
}

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** The copy of the whole database, when the capture made one. */
export function dataFile(dir: string, cap: Capture): string | undefined {
  return cap.rehearsal?.data ? join(dir, DATA_FILE) : undefined;
}

export function readCapture(dir: string): { capture: Capture; schemaSql: string } {
  let capture: Capture;
  try {
    capture = JSON.parse(readFileSync(join(dir, CAPTURE_FILE), 'utf8')) as Capture;
  } catch (err) {
    throw new MigratorError(
      `no capture of the target in ${dir} (${(err as Error).message.split('\n')[0]}): the capture step must run first`,
    );
  }
  if (capture.version !== 1)
    throw new MigratorError(`capture in ${dir} has version ${capture.version}, not 1`);
  return { capture, schemaSql: readFileSync(join(dir, SCHEMA_FILE), 'utf8') };
}

export function hasCapture(dir: string | undefined): dir is string {
  if (!dir) return false;
  try {
    readFileSync(join(dir, CAPTURE_FILE));
    return true;
  } catch {
    return false;
  }
}

/** The statistics as the trace findings read them. */
export function statsOf(cap: Capture): TargetStats {
  return { serverVersion: cap.serverVersion, major: cap.major, relations: new Map(cap.relations) };
}
