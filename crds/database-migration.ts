// The DatabaseMigration API (dbmigrate.io/v1alpha1): the single source of truth.
// The CRD's OpenAPI schema is generated from these zod schemas (crds/generate.ts)
// and the operator validates every object with them again before acting.
import { z } from 'zod';
import { BackupRecord, Finding, FindingCategory, findingCategories } from './job-result.js';

export const GROUP = 'dbmigrate.io';
export const VERSION = 'v1alpha1';
export const KIND = 'DatabaseMigration';
export const PLURAL = 'databasemigrations';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The annotation that asks for a new run of the same generation (e.g. after a failure). Its value is any new token. */
export const RETRY_ANNOTATION = 'dbmigrate.io/retry';

// An RFC 1123 subdomain, label by label, exactly as the API server checks the
// names the Jobs carry: a looser pattern ("a..b", "a.-b") passed here and was
// then refused on the Job, whose error names the Job's field, not this one.
const dnsName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);

const cel = (rule: string, message: string, fieldPath?: string) => ({
  rule,
  message,
  ...(fieldPath ? { fieldPath } : {}),
});

export const SecretKeyRef = z
  .object({
    name: dnsName.describe('Name of a Secret in the resource namespace.'),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key: letters, digits, "-", "_" and "."')
      .describe('Key within the Secret.'),
  })
  .describe(
    'A key of a Secret in the same namespace. Only the Job reads it (through secretKeyRef); the operator never does.',
  );

export const DatabaseSpec = z
  .object({
    host: z
      .string()
      .min(1)
      .max(253)
      .describe('Host name or address of the PostgreSQL server, as the Job Pods reach it.'),
    port: z.number().int().min(1).max(65535).default(5432).describe('TCP port of the PostgreSQL server.'),
    database: z
      .string()
      .min(1)
      .max(63)
      .describe('Database name. Host, port and database identify the target: one run at a time per target.'),
    user: z.string().min(1).max(63).describe('Role the migrator connects as.'),
    sslMode: z
      .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])
      .default('prefer')
      .describe('libpq sslmode.'),
    passwordSecretRef: SecretKeyRef.describe(
      'Where the password is: a Secret key. Inline passwords are not accepted.',
    ),
  })
  .describe('The target database.');

/** path is root or below it (both absolute; the same rule as the CRD's CEL one). */
export function isWithin(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`);
}

export const MigrationsSource = z
  .object({
    image: z
      .string()
      .min(1)
      .optional()
      .describe('The application image that contains the compiled TypeORM migrations.'),
    path: z
      .string()
      .regex(/^\//, 'must be an absolute path')
      .default('/app/dist/migrations')
      .describe('Directory inside the image holding the compiled migrations (.js files).'),
    copyRoot: z
      .string()
      .regex(/^\//, 'must be an absolute path')
      .optional()
      .describe(
        "Directory of the image copied into the Job (default: path itself): the app's whole dist, so migrations that import sibling modules find them. Must contain path.",
      ),
    source: z
      .enum(['copy', 'imageVolume'])
      .optional()
      .describe(
        'How the Jobs get the image files (default copy). copy: init containers copy copyRoot into an emptyDir with a static copier (no shell needed in the image). imageVolume: the image is mounted read-only as a Kubernetes image volume (beta, on by default from 1.35; needs a runtime that supports it, e.g. containerd 2.1+), no copy; image must then be a digest reference (...@sha256:...), since a mounted image reports no digest to pin.',
      ),
    configMapRef: z
      .object({ name: dnsName })
      .optional()
      .describe('A ConfigMap whose keys are compiled migration files. Alternative to image.'),
    transactionMode: z
      .enum(['all', 'each', 'none'])
      .default('all')
      .describe('TypeORM transaction mode: one transaction for all, one per migration, or none.'),
    tableName: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .max(63)
      .default('migrations')
      .describe('The TypeORM migrations table.'),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        'has(self.image) != has(self.configMapRef)',
        'set exactly one of migrations.image and migrations.configMapRef',
      ),
      cel(
        "!has(self.copyRoot) || self.path == self.copyRoot || self.path.startsWith(self.copyRoot.endsWith('/') ? self.copyRoot : self.copyRoot + '/')",
        'migrations.path must be inside migrations.copyRoot',
        '.copyRoot',
      ),
      cel(
        "!has(self.source) || self.source != 'imageVolume' || (has(self.image) && self.image.contains('@sha256:'))",
        'migrations.source imageVolume needs migrations.image as a digest reference (image@sha256:...)',
        '.source',
      ),
    ],
  })
  .refine((m) => m.copyRoot === undefined || isWithin(m.path, m.copyRoot), {
    message: 'migrations.path must be inside migrations.copyRoot',
    path: ['copyRoot'],
  })
  .refine((m) => m.source !== 'imageVolume' || (m.image?.includes('@sha256:') ?? false), {
    message: 'migrations.source imageVolume needs migrations.image as a digest reference (image@sha256:...)',
    path: ['source'],
  })
  .describe('Where the compiled migrations come from.');

export const BackupSpec = z
  .object({
    enabled: z.boolean().default(true).describe('Take a verified pg_dump before migrating.'),
    pvcName: dnsName
      .optional()
      .describe('PersistentVolumeClaim the backups are written to. Required when enabled.'),
    format: z
      .enum(['custom', 'directory'])
      .default('custom')
      .describe('pg_dump format; directory dumps in parallel.'),
    parallelJobs: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe('pg_dump/pg_restore -j (directory format dumps in parallel).'),
    retention: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(5)
      .describe('How many backups of this target to keep on the volume.'),
    verify: z
      .boolean()
      .default(true)
      .describe('Verify the archive (pg_restore --list, checksum) before migrating.'),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        '!self.enabled || has(self.pvcName)',
        'backup.pvcName is required when backup.enabled is true',
        '.pvcName',
      ),
    ],
  })
  .describe('The backup taken before the migration.');

export const SafetySpec = z
  .object({
    block: z
      .array(FindingCategory)
      .max(findingCategories.length)
      .default(['destructive', 'dataLoss'])
      .describe('Finding categories of the pre-deployment check that block the run until approved.'),
    approval: z
      .string()
      .max(128)
      .optional()
      .describe('The plan hash (status.plan.hash) of a blocked plan that a human accepts.'),
    compatibility: z
      .object({
        queries: z
          .array(z.string().min(1).max(4000))
          .max(20)
          .default([])
          .describe(
            'SQL the running app version depends on: each must still run on the shadow database after the pending migrations, else a backwardIncompatible finding names it.',
          ),
      })
      .optional()
      .describe('Backward compatibility of the migrated schema with the app version still running.'),
  })
  .describe('What the pre-deployment check may block.');

export const WorkloadRef = z.object({
  kind: z.enum(['Deployment', 'StatefulSet']),
  name: dnsName,
});

export const RollbackSpec = z
  .object({
    steps: z.number().int().min(1).max(1000).optional().describe('Revert the last N applied migrations.'),
    toMigration: z.string().min(1).optional().describe('Revert every migration applied after this one.'),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        'has(self.steps) != has(self.toMigration)',
        'set exactly one of rollback.steps and rollback.toMigration',
      ),
    ],
  })
  .describe('Set to revert instead of migrate: this run undoes migrations.');

export const TimeoutsSpec = z.object({
  lockTimeoutSeconds: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(10)
    .describe('PostgreSQL lock_timeout for migration statements.'),
  statementTimeoutSeconds: z
    .number()
    .int()
    .min(0)
    .max(86400)
    .default(0)
    .describe('PostgreSQL statement_timeout (0 = none).'),
  advisoryLockWaitSeconds: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(300)
    .describe('How long to wait for the advisory lock.'),
});

// Kubernetes resource quantities ("500m", "1Gi", "2"). The CRD schema keeps them
// plain strings; the operator checks them so a typo stalls the resource with the
// field named instead of failing later at Job creation.
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
const quantityMap = z.record(
  z.string(),
  z.string().refine((q) => QUANTITY.test(q), { message: 'is not a Kubernetes quantity (e.g. 500m, 256Mi)' }),
);

const stepDeadline = z.number().int().min(1).max(604800).optional();

export const JobTemplateSpec = z
  .object({
    resources: z
      .object({ requests: quantityMap.optional(), limits: quantityMap.optional() })
      .optional()
      .describe('Container resources of the Job Pods.'),
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z
      .array(
        z.object({
          key: z.string().optional(),
          operator: z.enum(['Exists', 'Equal']).optional(),
          value: z.string().optional(),
          effect: z.string().optional(),
          tolerationSeconds: z.number().int().optional(),
        }),
      )
      .optional(),
    serviceAccountName: dnsName
      .optional()
      .describe('A ServiceAccount of the namespace (a DNS subdomain name).'),
    imagePullSecrets: z.array(z.object({ name: dnsName })).optional(),
    activeDeadlineSeconds: z
      .number()
      .int()
      .min(1)
      .max(604800)
      .default(3600)
      .describe('Deadline of each Job (of a step without its own stepDeadlineSeconds).'),
    stepDeadlineSeconds: z
      .object({
        check: stepDeadline,
        backup: stepDeadline,
        migrate: stepDeadline,
        verify: stepDeadline,
        revert: stepDeadline,
        restore: stepDeadline,
      })
      .optional()
      .describe(
        "Deadline per step (check, backup, migrate, verify, revert, restore), frozen with the run; a step without one uses activeDeadlineSeconds. It is the Job's activeDeadlineSeconds, and the migrator stops itself (cancels its statements, writes its result) about 10 s before it, while the Pod still exists.",
      ),
    backoffLimit: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(0)
      .describe('Pod retries of each Job. Migrations are not retried blindly by default.'),
    runAsUser: z
      .number()
      .int()
      .min(1)
      .max(2147483647)
      .optional()
      .describe('UID the Job containers run as (non-root).'),
  })
  .describe('Overrides for the Jobs the operator creates.');

export const DatabaseMigrationSpec = z
  .object({
    database: DatabaseSpec,
    migrations: MigrationsSource,
    // Required, not defaulted: a backup is on by default but needs a volume, so
    // every resource states where its backups go (or that it has none).
    backup: BackupSpec,
    safety: SafetySpec.prefault({}),
    onFailure: z
      .enum(['none', 'revert', 'restore'])
      .default('none')
      .describe(
        'On a failed migration: leave it, revert what this run applied, or restore the backup (emergency rollback).',
      ),
    restoreWorkloads: z
      .array(WorkloadRef)
      .max(20)
      .default([])
      .describe(
        'Workloads scaled to zero before writes could be lost (see stopWorkloads) and back to their recorded replicas when the run ends.',
      ),
    stopWorkloads: z
      .enum(['beforeBackup', 'onRestore'])
      .default('onRestore')
      .describe(
        'When restoreWorkloads stop. onRestore: only before a restore (writes between the backup and the restore are lost). beforeBackup: before the backup Job starts (or, with backup disabled, before the migrate or requested revert), their Pods waited gone, so a restore loses no write; they come back when the run ends in any phase, except after a failed restore (the database is then in between and needs a human).',
      ),
    rollback: RollbackSpec.optional(),
    timeouts: TimeoutsSpec.prefault({}),
    verification: z
      .object({ queries: z.array(z.string().min(1).max(4000)).max(20).default([]) })
      .optional()
      .describe('SQL queries that must each return true after migrating.'),
    jobTemplate: JobTemplateSpec.prefault({}),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        "self.onFailure != 'restore' || self.backup.enabled",
        'onFailure: restore needs backup.enabled: true',
        '.onFailure',
      ),
    ],
  })
  .describe('The desired migration run.');
export type DatabaseMigrationSpec = z.infer<typeof DatabaseMigrationSpec>;

/**
 * The finding categories that block a run: spec.safety.block, plus
 * `irreversible` when a failure reverts (a revert through a down() the check
 * could not prove is the data loss the user chose revert to avoid).
 */
export function blockingCategories(
  spec: Pick<DatabaseMigrationSpec, 'safety' | 'onFailure'>,
): FindingCategory[] {
  const block = new Set<FindingCategory>(spec.safety.block);
  if (spec.onFailure === 'revert') block.add('irreversible');
  return [...block];
}

export const phases = [
  'Pending',
  'Queued',
  'Checking',
  'Blocked',
  'BackingUp',
  'Migrating',
  'Succeeded',
  'Failed',
  'RollingBack',
  'RolledBack',
  'Restoring',
  'Restored',
] as const;
export const Phase = z.enum(phases);
export type Phase = z.infer<typeof Phase>;

export const Condition = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof Condition>;

export const RunHistoryEntry = z.object({
  generation: z.number().int(),
  attempt: z.number().int(),
  phase: Phase,
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  message: z.string().optional(),
});
export type RunHistoryEntry = z.infer<typeof RunHistoryEntry>;

export const FrozenRun = z
  .object({
    generation: z.number().int(),
    attempt: z.number().int(),
    startedAt: z.string(),
    spec: z
      .looseObject({})
      .describe(
        'The spec this run uses, as parsed when it started (defaults filled). Every Job of the run is built from it; edits of the live spec start the next run.',
      ),
    migrationsImageDigest: z
      .string()
      .optional()
      .describe(
        'The migrations image as the first Pod of the run resolved it (image@sha256:...); every later Job of the run uses it, so a re-tagged image cannot change the run.',
      ),
    checkedPlan: z
      .object({
        checksums: z.record(z.string(), z.string()),
        pendingCount: z.number().int().nonnegative(),
      })
      .optional()
      .describe(
        "What the run's check saw: each pending migration's file sha256 (fewer than pendingCount when its result was cut) and how many were pending. The migrate Job refuses files that differ, or other pending migrations.",
      ),
    migrationsConfigMap: z
      .object({ name: z.string(), uid: z.string(), resourceVersion: z.string(), sha256: z.string() })
      .optional()
      .describe(
        'The migrations ConfigMap as the run started (its content hash over data and binaryData): a later Job is refused, the run Stalled naming it, when it was replaced or its content changed.',
      ),
  })
  .describe('The frozen plan of the current run.');
export type FrozenRun = z.infer<typeof FrozenRun>;

export const DatabaseMigrationStatus = z
  .object({
    run: FrozenRun.optional(),
    observedGeneration: z.number().int().optional().describe('The generation the status describes.'),
    phase: Phase.optional(),
    conditions: z.array(Condition).optional(),
    target: z.string().optional().describe('host:port/database: the key runs are serialized on.'),
    attempt: z.number().int().optional().describe('Run attempt of this generation (retries bump it).'),
    retryToken: z.string().optional().describe('The retry annotation value the current attempt answered.'),
    jobs: z.record(z.string(), z.string()).optional().describe('Job name per step of the current run.'),
    startedAt: z.string().optional(),
    completedAt: z.string().optional(),
    plan: z
      .object({
        pending: z.array(z.string()),
        hash: z.string(),
        findings: z.array(Finding),
        blocking: z.array(z.string()).optional(),
        pendingCount: z
          .number()
          .int()
          .optional()
          .describe('All pending migrations (pending may be shortened).'),
        findingsCount: z.number().int().optional(),
        blockingCount: z.number().int().optional(),
        configMap: z
          .string()
          .optional()
          .describe(
            'ConfigMap (owned by this resource) with the full plan and applied list, uncut: kubectl get configmap <name> -o jsonpath={.data.plan\\.json}',
          ),
      })
      .optional(),
    revert: z
      .object({
        migrations: z.array(z.string()).describe('Exactly the migrations the revert undoes, newest first.'),
        reason: z.string(),
      })
      .optional()
      .describe('Recorded before the revert Job starts, so a repeated reconcile reverts nothing more.'),
    inspection: z
      .object({
        after: z.string().describe('The step whose result could not be read.'),
        reason: z.string(),
        startedAt: z.string(),
      })
      .optional()
      .describe('Unknown is not failed: the database is asked what happened before any way back.'),
    rollbackDone: z
      .object({ hash: z.string(), generation: z.number().int() })
      .optional()
      .describe('The spec.rollback last carried out: it runs once, not again on unrelated edits.'),
    backup: BackupRecord.extend({ completedAt: z.string().optional() }).optional(),
    applied: z
      .array(z.object({ name: z.string(), durationMs: z.number() }))
      .optional()
      .describe('Migrations this run applied (or reverted), with durations.'),
    appliedCount: z.number().int().optional(),
    lastError: z
      .object({
        step: z.string(),
        message: z.string(),
        code: z.string().optional(),
        migration: z.string().optional(),
      })
      .optional(),
    scaledDown: z
      .array(z.object({ kind: z.string(), name: z.string(), replicas: z.number().int() }))
      .optional()
      .describe(
        'Workloads scaled to zero (before the backup or the restore), with their former replicas: recorded before scaling, never overwritten, dropped once they are back.',
      ),
    history: z.array(RunHistoryEntry).max(20).optional(),
  })
  .describe('What the operator observed and did.');
export type DatabaseMigrationStatus = z.infer<typeof DatabaseMigrationStatus>;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface DatabaseMigration {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: DatabaseMigrationSpec;
  status?: DatabaseMigrationStatus;
}

/** Validates a spec as it came from the API server; names the field at fault. */
export function validateSpec(
  raw: unknown,
): { ok: true; spec: DatabaseMigrationSpec } | { ok: false; field: string; message: string } {
  const parsed = DatabaseMigrationSpec.safeParse(raw);
  if (parsed.success) return { ok: true, spec: parsed.data };
  const issue = parsed.error.issues[0];
  const field = ['spec', ...(issue?.path ?? []).map(String)].join('.');
  return { ok: false, field, message: issue?.message ?? 'invalid' };
}

export function targetKey(db: { host: string; port: number; database: string }): string {
  return `${db.host.toLowerCase()}:${db.port}/${db.database}`;
}
