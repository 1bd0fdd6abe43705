// Configuration of the migrator, read from the environment the Job sets and
// validated with zod. PGPASSWORD comes from a Secret: it is kept here only to
// connect and to scrub it from anything we print.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { findingCategories, type FindingCategory } from '../../crds/job-result.js';
import { SeedTables } from '../../crds/spec/seed-tables.js';

const int = (def: number, min = 0, max = 1_000_000) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return n;
    });

const bool = (def: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      if (/^(true|1|yes)$/i.test(v)) return true;
      if (/^(false|0|no)$/i.test(v)) return false;
      ctx.addIssue({ code: 'custom', message: 'must be true or false' });
      return z.NEVER;
    });

/** A size in bytes (the operator converts the spec's quantity); 0 is a valid value. */
const bytes = (def: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a non-negative integer (bytes)' });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain SQL identifier')
  .max(63);

export const Env = z.object({
  PGHOST: z.string().min(1, 'is required'),
  PGPORT: int(5432, 1, 65535),
  PGDATABASE: z.string().min(1, 'is required'),
  PGUSER: z.string().min(1, 'is required'),
  PGPASSWORD: z.string().optional(),
  PGSSLMODE: z
    .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'])
    .default('prefer'),
  PGCONNECT_TIMEOUT: int(10, 1, 3600),
  MIGRATIONS_DIR: optionalString,
  /** The copied root the migrations live in (copyRoot): hashed whole into the approval hash. */
  MIGRATIONS_ROOT: optionalString,
  MIGRATIONS_TABLE: identifier.default('migrations'),
  MIGRATIONS_SCHEMA: identifier.optional(),
  HISTORY_TABLE: identifier.default('dbmigrate_history'),
  TRANSACTION_MODE: z.enum(['all', 'each', 'none']).default('all'),
  LOCK_TIMEOUT_SECONDS: int(10, 0, 3600),
  STATEMENT_TIMEOUT_SECONDS: int(0, 0, 86400),
  IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: int(600, 0, 86400),
  SHUTDOWN_GRACE_SECONDS: int(8, 1, 3600),
  // The Job's activeDeadlineSeconds: the migrator stops itself shortly before it.
  STEP_DEADLINE_SECONDS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 604800) {
        ctx.addIssue({ code: 'custom', message: 'must be an integer between 1 and 604800' });
        return z.NEVER;
      }
      return n;
    }),
  ADVISORY_LOCK_WAIT_SECONDS: int(300, 0, 3600),
  BACKUP_DIR: optionalString,
  BACKUP_FORMAT: z.enum(['custom', 'directory']).default('custom'),
  BACKUP_JOBS: int(1, 1, 64),
  // pg_dump -Z: unset leaves pg_dump's default (gzip); lz4 and zstd need pg_dump 16+.
  BACKUP_COMPRESSION: z.enum(['gzip', 'lz4', 'zstd', 'none']).optional(),
  BACKUP_RETENTION: int(5, 1, 1000),
  BACKUP_VERIFY: bool(true),
  // Above this database size (pg_database_size) the backup is not restored to prove it (0: no cap).
  BACKUP_PROOF_MAX_BYTES: bytes(10 * 1024 ** 3),
  // Above this database size the check runs on the schema alone, not on a copy of the data (0: never on data).
  REHEARSAL_MAX_BYTES: bytes(1024 ** 3),
  BACKUP_ID: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a file name (letters, digits, . _ -)')
    .max(200)
    .optional(),
  BACKUP_PATH: optionalString,
  ENTITIES_DIR: optionalString,
  // The running (previous) app version's compiled entities: the check requires their tables and columns after the migrations.
  COMPATIBILITY_ENTITIES_DIR: optionalString,
  SAFETY_BLOCK: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const names = (v ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const bad = names.find((n) => !(findingCategories as readonly string[]).includes(n));
      if (bad) {
        ctx.addIssue({
          code: 'custom',
          message: `must list finding categories (${findingCategories.join(', ')})`,
        });
        return z.NEVER;
      }
      return names as FindingCategory[];
    }),
  RESTORE_DROP_NEW_TABLES: bool(true),
  REVERT_STEPS: int(0, 0, 100000),
  /**
   * Restore only these schemas (the ones the run's migrations touched, from the check's trace),
   * plus the migrations schema; empty: the whole database.
   */
  RESTORE_SCHEMAS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  /** REVERT_STEPS counts once per MIGRATION_AUTHOR: what that run identity already reverted is part of the N. */
  REVERT_STEPS_ONCE: bool(false),
  REVERT_TO: optionalString,
  /** Revert every migration whose newest history row says this run (its MIGRATION_AUTHOR) applied it. */
  REVERT_APPLIED_BY: optionalString,
  REVERT_MIGRATIONS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const names = (v ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (new Set(names).size !== names.length) {
        ctx.addIssue({ code: 'custom', message: 'names a migration twice' });
        return z.NEVER;
      }
      return names;
    }),
  VERIFY_QUERIES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return [] as string[];
      try {
        return z.array(z.string().min(1)).parse(JSON.parse(v));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON array of SQL strings' });
        return z.NEVER;
      }
    }),
  // The check's shadow server: its binaries (default: /usr/lib/postgresql/<target major or newer>/bin)
  // and the directory its data lives in (an emptyDir in the Pod; default the OS temp dir).
  SHADOW_PG_BIN_DIR: optionalString,
  SHADOW_DATA_DIR: optionalString,
  /** The check's capture of the target (capture.ts): the check then holds no credentials of the target. */
  CAPTURE_DIR: optionalString,
  // An external shadow server (spec.check.shadow) instead of a local one: the check creates and drops a database there.
  SHADOW_PGHOST: optionalString,
  SHADOW_PGPORT: int(5432, 1, 65535),
  SHADOW_PGUSER: optionalString,
  SHADOW_PGPASSWORD: z.string().optional(),
  SHADOW_PGDATABASE: z.string().min(1).default('postgres'),
  SHADOW_PGSSLMODE: z
    .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'])
    .default('prefer'),
  COMPATIBILITY_QUERIES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return [] as string[];
      try {
        return z.array(z.string().min(1)).parse(JSON.parse(v));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON array of SQL strings' });
        return z.NEVER;
      }
    }),
  // spec.check.seedTables (JSON): tables whose rows the capture copies when the check runs on the schema alone.
  SEED_TABLES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return [] as string[];
      const parsed = SeedTables.safeParse(
        (() => {
          try {
            return JSON.parse(v) as unknown;
          } catch {
            return undefined;
          }
        })(),
      );
      if (!parsed.success) {
        ctx.addIssue({
          code: 'custom',
          message: parsed.error.issues[0]?.message ?? 'must be a JSON array of table names',
        });
        return z.NEVER;
      }
      return parsed.data;
    }),
  // The run's checked plan (name -> file sha256, JSON) and its pending count: migrate refuses other files.
  EXPECTED_CHECKSUMS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      try {
        return z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)).parse(JSON.parse(v));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of migration name to sha256' });
        return z.NEVER;
      }
    }),
  EXPECTED_PLAN_DIGEST: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex')
    .optional(),
  EXPECTED_PENDING_COUNT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a non-negative integer' });
        return z.NEVER;
      }
      return n;
    }),
  RESULT_PATH: z.string().min(1).default('/dev/termination-log'),
  // This container's share of the Pod's termination messages (main.ts reads it before the config).
  RESULT_MAX_BYTES: int(4096, 512, 4096),
  MIGRATION_AUTHOR: z.string().max(200).default('dbmigrate'),
  // Where pg_dump/pg_restore are (PATH when unset); PG_BIN_DIR is the older name.
  PG_CLIENT_BIN_DIR: optionalString,
  PG_BIN_DIR: optionalString,
});
export type Config = z.output<typeof Env>;

export class ConfigError extends Error {}

/**
 * The check's container holds no connection to the target: with a capture and
 * no PGHOST, the target's names (database, role; never a password or a host)
 * come from the capture, and PGHOST names the capture directory, where no
 * server listens.
 */
function fromCapture(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const dir = env.CAPTURE_DIR;
  if (!dir || env.PGHOST) return env;
  try {
    const cap = JSON.parse(readFileSync(join(dir, 'capture.json'), 'utf8')) as {
      database: string;
      look: { me: string };
    };
    return { ...env, PGHOST: dir, PGDATABASE: cap.database, PGUSER: cap.look.me };
  } catch {
    return env;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = Env.safeParse(fromCapture(env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Never echo the received value: it could be a secret.
    throw new ConfigError(
      `invalid environment: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? 'is invalid'}`,
    );
  }
  return parsed.data;
}

export function requireSet<K extends keyof Config>(cfg: Config, key: K, why: string): NonNullable<Config[K]> {
  const v = cfg[key];
  if (v === undefined || v === null)
    throw new ConfigError(`invalid environment: ${String(key)} is required ${why}`);
  return v as NonNullable<Config[K]>;
}
