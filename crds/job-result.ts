// The contract between the operator and the migrator: every Job's container
// writes one JSON document of this shape to its termination message file
// (Kubernetes keeps at most 4096 bytes of it). The operator decides on it, read
// from the Pod status, so it never needs database credentials. The full result
// (every list uncut) is also printed once on stdout, as a JSON line of its own
// ({"dbmigrateFullResult": ...}, so logs stay JSON lines), for people: the
// operator copies it into the resource's plan ConfigMap.
import { z } from 'zod';

export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const RESULT_MAX_BYTES = 4096;
/** Env names that can carry a database connection in any library's convention: never given to code running migrations off the target. */
export const CONNECTION_ENV = /^(PG[A-Z_]*|DATABASE_URL|DB_URL|TYPEORM_.*|POSTGRES_.*)$/;
/** The kubelet keeps 12 KiB of termination messages per Pod, split evenly over all its containers (init ones too). */
export const POD_RESULT_MAX_BYTES = 12 * 1024;

/** A container's share of the termination message, in a Pod of `containers` containers. */
export function resultBudget(containers: number): number {
  return Math.min(RESULT_MAX_BYTES, Math.floor(POD_RESULT_MAX_BYTES / Math.max(1, containers)));
}
/** Starts the one stdout line that holds the full (uncut, scrubbed) result. */
export const FULL_RESULT_MARKER = '{"dbmigrateFullResult":';

/** The stdout line for a full result given as JSON text. */
export function fullResultLine(json: string): string {
  return `${FULL_RESULT_MARKER}${json}}`;
}

/**
 * Starts the stdout line the migrate Job prints before each migration (and once
 * at its end): live progress, read by the operator from the Pod's log tail while
 * the Job runs (the Job has no API access). For people; never part of a decision.
 */
export const PROGRESS_MARKER = '{"dbmigrateProgress":';

export const MigrateProgress = z.object({
  applied: z.number().int().min(0).describe('Migrations of this run already applied.'),
  total: z.number().int().min(0).describe('Migrations pending when the migrate Job started.'),
  current: z.string().optional().describe('The migration being applied now; absent once all are.'),
});
export type MigrateProgress = z.infer<typeof MigrateProgress>;

/** The stdout line for a progress report. */
export function progressLine(p: MigrateProgress): string {
  return `${PROGRESS_MARKER}${JSON.stringify(p)}}`;
}

export const jobSteps = ['check', 'backup', 'migrate', 'verify', 'revert', 'restore'] as const;
export const JobStep = z.enum(jobSteps);
export type JobStep = z.infer<typeof JobStep>;

export const findingCategories = [
  'destructive',
  'dataLoss',
  'locking',
  'backwardIncompatible',
  'irreversible',
  'incomplete',
  'rehearsal',
  // Type choices that cost later (int keys, timestamp, json, char, varchar(n)): advice, never a hazard of the run.
  'style',
] as const;
export const FindingCategory = z.enum(findingCategories);
export type FindingCategory = z.infer<typeof FindingCategory>;

export const Finding = z.object({
  rule: z.string().describe('Lint rule id, e.g. drop-column.'),
  category: FindingCategory.describe(
    'destructive, dataLoss, locking, backwardIncompatible or irreversible: what spec.safety.block matches.',
  ),
  severity: z.enum(['info', 'warning', 'error']).describe('How serious the finding is.'),
  migration: z.string().describe('The migration whose SQL triggered the finding.'),
  message: z.string().describe('What the statement does and why it is a hazard.'),
  hint: z.string().optional().describe('The safe alternative.'),
  statement: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe("0-based index of the statement in the migration's SQL."),
});
export type Finding = z.infer<typeof Finding>;

export const ResultError = z.object({
  message: z.string().describe('One line, never containing credentials.'),
  code: z.string().optional().describe('PostgreSQL SQLSTATE, when the database raised the error.'),
  migration: z.string().optional().describe('The migration at fault, if any.'),
  detail: z
    .string()
    .optional()
    .describe("PostgreSQL's DETAIL of the error, bounded, never containing credentials."),
  hint: z.string().optional().describe("PostgreSQL's HINT of the error, bounded."),
  statement: z
    .string()
    .optional()
    .describe(
      'The failing SQL statement, bounded to ~300 characters, password literals and credentials scrubbed.',
    ),
});
export type ResultError = z.infer<typeof ResultError>;

export const AppliedMigration = z.object({
  name: z.string(),
  durationMs: z.number().nonnegative(),
  checksum: z.string().optional(),
  outcome: z.enum(['applied', 'reverted', 'failed']).default('applied'),
});
export type AppliedMigration = z.infer<typeof AppliedMigration>;

export const BackupRecord = z.object({
  path: z.string().describe('Where the archive is on the backup volume.'),
  format: z.enum(['custom', 'directory']).describe('pg_dump format of the archive.'),
  sizeBytes: z.number().int().nonnegative().describe('Size of the archive in bytes.'),
  sha256: z.string().describe('sha256 of the archive, checked again before a restore.'),
  verified: z.boolean().describe('Whether the archive was verified (see verifiedBy).'),
  serverVersion: z.string().optional().describe('Version of the PostgreSQL server that was dumped.'),
  tables: z.number().int().nonnegative().optional().describe('Tables in the archive.'),
  rows: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Rows in the archive (estimated from the statistics).'),
  appliedMigrations: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Rows of the migrations table in the archive: the migrations it holds.'),
  verifiedBy: z
    .enum(['restore', 'list'])
    .optional()
    .describe(
      'restore: the archive was restored as the target role into a private server and every table compared (count and checksum); list: only its table of contents was read.',
    ),
  verifyNote: z
    .string()
    .optional()
    .describe('Why the archive was not restored to verify it (verified false).'),
  unproven: z
    .enum(['tooLarge'])
    .optional()
    .describe(
      'Why the archive was not restored to prove it: tooLarge, the database is above spec.backup.proof.maxSize (only its table of contents was read; the run goes on with a BackupUnproven condition).',
    ),
  createdAt: z
    .string()
    .optional()
    .describe('When the backup was taken (restore reports what it rolled back to).'),
  historyRowsSince: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe(
      'restore: history rows written since the backup; kept (re-inserted) in the history table while the changes they record are discarded.',
    ),
  rowsChangedAfterCommit: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe(
      'restore: rows that differ from the backup right after COMMIT (writers outside restoreWorkloads). The restore itself was verified inside its transaction: a figure, not a failure.',
    ),
});
export type BackupRecord = z.infer<typeof BackupRecord>;

export const ShadowRecord = z
  .object({
    targetVersion: z.string().describe("The target's server version."),
    shadowMajor: z.number().int().describe('Major version of the throwaway server the plan ran on.'),
    external: z
      .boolean()
      .optional()
      .describe('True when the plan ran on the external shadow server of spec.check.shadow.'),
    schemaErrors: z
      .array(z.string())
      .default([])
      .describe(
        "Statements of the target's schema the shadow could not load (e.g. an extension the image lacks).",
      ),
    schemaErrorCount: z.number().int().nonnegative().default(0),
    statementsTraced: z.number().int().nonnegative(),
    reversibility: z
      .enum(['proven', 'failed', 'skipped'])
      .describe(
        'proven: every down() brought the catalog back and the ups re-applied; skipped: an up() failed.',
      ),
    durationMs: z.number().int().nonnegative(),
  })
  .describe('How the plan was proven: on a shadow database, never on the target.');
export type ShadowRecord = z.infer<typeof ShadowRecord>;

export const PlanRecord = z.object({
  pending: z.array(z.string()),
  hash: z
    .string()
    .describe(
      "sha256 of the pending migrations' files, the migration directory's other files and the findings (rule, migration, statement number), never the SQL text; approvals name it.",
    ),
  findings: z.array(Finding),
  notCaptured: z.array(z.object({ migration: z.string(), reason: z.string() })).default([]),
  ignored: z
    .array(z.object({ migration: z.string(), rule: z.string(), count: z.number().int().nonnegative() }))
    .optional()
    .describe('Rules a migration silenced with a dbmigrate:ignore comment, and how many findings each hid.'),
  revertFindings: z
    .array(Finding)
    .optional()
    .describe(
      "Findings on the SQL of the pending migrations' down()s: what a revert would do. Reported, never blocking.",
    ),
  shadow: ShadowRecord.optional(),
  rehearsal: z
    .object({
      onData: z
        .boolean()
        .describe("The migrations ran on a copy of the target's rows, not on its schema alone."),
      sizeBytes: z.number().nonnegative().describe('The target database size the copy was decided on.'),
      note: z.string().optional().describe('Why the rows were not copied.'),
      durationsMs: z
        .record(z.string(), z.number().int().nonnegative())
        .describe('Each pending migration, as long as it took.'),
      totalMs: z.number().int().nonnegative(),
    })
    .optional()
    .describe("How the pending migrations ran in the check's private server: the expected durations."),
  checksums: z
    .record(z.string(), z.string().regex(/^[0-9a-f]{64}$/))
    .optional()
    .describe(
      "sha256 of each pending migration's file, by name: the migrate Job of the run refuses files that differ.",
    ),
  checksumsDigest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
    .describe('sha256 over every pending name and file sha256, in order: whole even when checksums was cut.'),
});
export type PlanRecord = z.infer<typeof PlanRecord>;

export const VerifyRecord = z.object({
  pending: z.array(z.string()),
  problems: z.array(z.string()),
});
export type VerifyRecord = z.infer<typeof VerifyRecord>;

export const DatabaseIdentity = z.object({
  key: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .describe("sha256 (first 32 hex) of the server's identity and the database oid: the serialization key."),
  server: z
    .string()
    .describe('system:<system_identifier>, or addr:<server address>:<port> where the role may not read it.'),
  databaseOid: z.number().int().nonnegative(),
});
export type DatabaseIdentity = z.infer<typeof DatabaseIdentity>;

export const ResultTotals = z
  .object({
    pending: z.number().int().nonnegative().optional().describe('Pending migrations, before any truncation.'),
    applied: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Migrations applied (or reverted) by this Job.'),
    findings: z.number().int().nonnegative().optional().describe('All findings of the check.'),
    blocking: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'Findings in the SAFETY_BLOCK categories, counted on the full list; absent when SAFETY_BLOCK is unset.',
      ),
    bySeverity: z.record(z.string(), z.number().int().nonnegative()).optional(),
    byCategory: z.record(z.string(), z.number().int().nonnegative()).optional(),
  })
  .describe('Counts over the full lists; never truncated, so decisions do not depend on what fit in 4 KiB.');
export type ResultTotals = z.infer<typeof ResultTotals>;

export const ResourceUsage = z.object({
  userCpuMs: z.number().nonnegative(),
  systemCpuMs: z.number().nonnegative(),
  maxRssKiB: z.number().nonnegative(),
});

export const JobResult = z.object({
  step: JobStep,
  ok: z.boolean(),
  startedAt: z.string(),
  finishedAt: z.string(),
  error: ResultError.optional(),
  migrations: z.array(AppliedMigration).optional(),
  backup: BackupRecord.optional(),
  plan: PlanRecord.optional(),
  verify: VerifyRecord.optional(),
  usage: ResourceUsage.optional(),
  totals: ResultTotals.optional(),
  database: DatabaseIdentity.optional().describe('The target database as the server identifies it (check).'),
  truncated: z
    .boolean()
    .optional()
    .describe('Lists were shortened to fit the 4 KiB limit; the verdict never is.'),
});
export type JobResult = z.infer<typeof JobResult>;

/** Parses a termination message; returns a readable reason when it does not follow the contract. */
export function parseJobResult(
  message: string | undefined,
): { ok: true; result: JobResult } | { ok: false; reason: string } {
  if (!message || message.trim() === '') return { ok: false, reason: 'the container wrote no result' };
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return { ok: false, reason: 'the container result is not JSON' };
  }
  const parsed = JobResult.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      reason: `the container result breaks the contract at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    };
  }
  return { ok: true, result: parsed.data };
}

/** The JSON text of the full result in a Pod's log (the last marked line), if there is one. */
export function fullResultFromLog(log: string): string | undefined {
  const at = log.lastIndexOf(`\n${FULL_RESULT_MARKER}`);
  const start = at >= 0 ? at + 1 : log.startsWith(FULL_RESULT_MARKER) ? 0 : -1;
  if (start < 0) return undefined;
  const end = log.indexOf('\n', start);
  const line = log.slice(start, end < 0 ? undefined : end);
  try {
    const value = (JSON.parse(line) as { dbmigrateFullResult?: unknown }).dbmigrateFullResult;
    return value === undefined ? undefined : JSON.stringify(value);
  } catch {
    // Cut (a log read bounded in bytes) or garbled: not the result.
    return undefined;
  }
}
