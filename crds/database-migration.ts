// The DatabaseMigration API (dbmigrate.io/v1alpha1): the single source of truth.
// The CRD's OpenAPI schema is generated from these zod schemas (crds/generate.ts)
// and the operator validates every object with them again before acting.
import { z } from 'zod';
import { BackupRecord, Finding, FindingCategory, findingCategories } from './job-result.js';
import { podFitFields } from './pod-template.js';

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

// A key of a Secret or ConfigMap: same rules (Kubernetes checks them the same way).
const dataKey = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/, 'must be a key: letters, digits, "-", "_" and "."');

export const ConnectionSecretRef = z
  .object({
    name: dnsName.describe('Name of a Secret in the resource namespace.'),
    keys: z
      .object({
        host: dataKey.default('host').describe('Key holding the host name.'),
        port: dataKey.default('port').describe('Key holding the TCP port.'),
        dbname: dataKey.default('dbname').describe('Key holding the database name.'),
        user: dataKey.default('user').describe('Key holding the role name.'),
        password: dataKey.default('password').describe('Key holding the password.'),
      })
      .prefault({})
      .describe(
        "The Secret's keys; the defaults are CloudNativePG's <cluster>-app Secret (host, port, dbname, user, password).",
      ),
  })
  .describe(
    'Take host, port, database, user and password from one Secret (e.g. the <cluster>-app Secret CloudNativePG creates). Only the Job reads it, through secretKeyRef; the operator never does, so runs are serialized on this Secret (namespace/name) instead of on host:port/database, and the PostgreSQL advisory lock the migrator takes is what keeps two runs on one database apart.',
  );

export const ConfigMapKeyRef = z
  .object({
    name: dnsName.describe('Name of a ConfigMap in the resource namespace.'),
    key: dataKey.default('ca.crt').describe('Key within the ConfigMap.'),
  })
  .describe('A key of a ConfigMap in the same namespace.');

const SecretKeyWithDefault = z
  .object({
    name: dnsName.describe('Name of a Secret in the resource namespace.'),
    key: dataKey.default('ca.crt').describe('Key within the Secret.'),
  })
  .describe('A key of a Secret in the same namespace (read by the kubelet, never by the operator).');

export const TlsSpec = z
  .object({
    caSecretRef: SecretKeyWithDefault.optional().describe(
      'CA bundle that signs the server certificate, from a Secret key (e.g. cert-manager or CloudNativePG <cluster>-ca, key ca.crt). Mounted read-only as PGSSLROOTCERT.',
    ),
    caConfigMapRef: ConfigMapKeyRef.optional().describe(
      'CA bundle that signs the server certificate, from a ConfigMap key (e.g. a trust-manager bundle). Mounted read-only as PGSSLROOTCERT.',
    ),
    clientCertSecretRef: z
      .object({
        name: dnsName.describe(
          'Name of a Secret in the resource namespace (e.g. a kubernetes.io/tls Secret).',
        ),
        certKey: dataKey.default('tls.crt').describe('Key holding the client certificate (PEM).'),
        keyKey: dataKey.default('tls.key').describe('Key holding the private key (PEM).'),
      })
      .optional()
      .describe(
        'Client certificate and key for certificate authentication, mounted read-only (key mode 0400, group of the Pod fsGroup) as PGSSLCERT and PGSSLKEY.',
      ),
  })
  .refine((t) => !(t.caSecretRef && t.caConfigMapRef), {
    message: 'set at most one of tls.caSecretRef and tls.caConfigMapRef',
    path: ['caConfigMapRef'],
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        '!(has(self.caSecretRef) && has(self.caConfigMapRef))',
        'set at most one of tls.caSecretRef and tls.caConfigMapRef',
      ),
    ],
  })
  .describe(
    'Certificates for verify-ca / verify-full and client certificate authentication, mounted into the Job; the migrator, pg_dump and pg_restore all use them.',
  );

const CONNECTION_FIELDS = ['host', 'database', 'user', 'passwordSecretRef'] as const;

export const DatabaseSpec = z
  .object({
    host: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe(
        'Host name or address of the PostgreSQL server, as the Job Pods reach it. Required unless connectionSecretRef is set.',
      ),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .default(5432)
      .describe("TCP port of the PostgreSQL server (with connectionSecretRef, the Secret's port is used)."),
    database: z
      .string()
      .min(1)
      .max(63)
      .optional()
      .describe(
        'Database name. Host, port and database identify the target: one run at a time per target. Required unless connectionSecretRef is set.',
      ),
    user: z
      .string()
      .min(1)
      .max(63)
      .optional()
      .describe('Role the migrator connects as. Required unless connectionSecretRef is set.'),
    sslMode: z
      .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])
      .default('prefer')
      .describe('libpq sslmode.'),
    passwordSecretRef: SecretKeyRef.optional().describe(
      'Where the password is: a Secret key. Inline passwords are not accepted. Required unless connectionSecretRef is set.',
    ),
    connectionSecretRef: ConnectionSecretRef.optional(),
    tls: TlsSpec.optional(),
    schema: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain SQL identifier')
      .max(63)
      .optional()
      .describe(
        "Schema of the migrations table (TypeORM's DataSource schema), when it is not the role's default (public). It must exist. Migration SQL without a schema still follows the role's search_path, as it does when the app runs its migrations itself.",
      ),
  })
  .superRefine((db, ctx) => {
    if (db.connectionSecretRef) {
      for (const f of CONNECTION_FIELDS)
        if (db[f] !== undefined)
          ctx.addIssue({ code: 'custom', path: [f], message: 'must not be set with connectionSecretRef' });
    } else {
      for (const f of CONNECTION_FIELDS)
        if (db[f] === undefined)
          ctx.addIssue({ code: 'custom', path: [f], message: 'is required (or set connectionSecretRef)' });
    }
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        'has(self.connectionSecretRef) ? !has(self.host) && !has(self.database) && !has(self.user) && !has(self.passwordSecretRef) : has(self.host) && has(self.database) && has(self.user) && has(self.passwordSecretRef)',
        'set either connectionSecretRef or all of host, database, user and passwordSecretRef',
      ),
    ],
  })
  .describe('The target database.');
export type DatabaseSpec = z.infer<typeof DatabaseSpec>;

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
      .object({ name: dnsName.describe('Name of a ConfigMap of the namespace.') })
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
    compression: z
      .enum(['lz4', 'zstd', 'gzip', 'none'])
      .default('lz4')
      .describe(
        "pg_dump -Z. lz4 (default) dumps about 6x faster than gzip (pg_dump's own default) for a larger archive; zstd is as small as gzip, about 2x faster.",
      ),
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

export const CheckSpec = z
  .object({
    shadow: z
      .object({
        host: z
          .string()
          .min(1)
          .max(253)
          .describe('Host of a PostgreSQL server the check may create databases on.'),
        port: z.number().int().min(1).max(65535).default(5432).describe('Its TCP port.'),
        user: z
          .string()
          .min(1)
          .max(63)
          .describe('A role with CREATEDB there (and CREATEROLE, to mirror roles).'),
        passwordSecretRef: SecretKeyRef.describe('Where its password is: a Secret key.'),
        database: z
          .string()
          .min(1)
          .max(63)
          .default('postgres')
          .describe('The database connected to for CREATE/DROP DATABASE.'),
        sslMode: z
          .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])
          .default('prefer')
          .describe('libpq sslmode.'),
      })
      .optional()
      .describe(
        "An external shadow server, for targets using extensions the migrator image lacks: each check creates a fresh database there, runs the plan on it and drops it. Default: a throwaway PostgreSQL 18 server inside the check Pod. It must run the target's major version or a newer one.",
      ),
  })
  .describe('How the pre-deployment check runs.');

export const WorkloadRef = z.object({
  kind: z.enum(['Deployment', 'StatefulSet']).describe('Deployment or StatefulSet.'),
  name: dnsName.describe('Name of the workload in the namespace.'),
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

const stepDeadline = z
  .number()
  .int()
  .min(1)
  .max(604800)
  .optional()
  .describe("Deadline in seconds of this step's Job.");

export const JobTemplateSpec = z
  .object({
    resources: z
      .object({
        requests: quantityMap.optional().describe('Resource requests, e.g. cpu: 100m, memory: 256Mi.'),
        limits: quantityMap.optional().describe('Resource limits, e.g. memory: 1Gi.'),
      })
      .optional()
      .describe('Container resources of the Job Pods.'),
    nodeSelector: z.record(z.string(), z.string()).optional().describe('nodeSelector of the Job Pods.'),
    tolerations: z
      .array(
        z.object({
          key: z.string().optional().describe('The taint key the toleration applies to (empty: all).'),
          operator: z.enum(['Exists', 'Equal']).optional().describe('Exists or Equal (default Equal).'),
          value: z.string().optional().describe('The taint value, with operator Equal.'),
          effect: z.string().optional().describe('NoSchedule, PreferNoSchedule or NoExecute (empty: all).'),
          tolerationSeconds: z.number().int().optional().describe('How long a NoExecute taint is tolerated.'),
        }),
      )
      .optional()
      .describe('Tolerations of the Job Pods.'),
    serviceAccountName: dnsName
      .optional()
      .describe('A ServiceAccount of the namespace (a DNS subdomain name).'),
    imagePullSecrets: z
      .array(z.object({ name: dnsName.describe('Name of a Secret of the namespace.') }))
      .optional()
      .describe('Secrets to pull the migrator and migrations images with.'),
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
    ...podFitFields,
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
    check: CheckSpec.optional(),
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
    timeouts: TimeoutsSpec.prefault({}).describe(
      'PostgreSQL timeouts of the migration statements and locks.',
    ),
    verification: z
      .object({
        queries: z
          .array(z.string().min(1).max(4000))
          .max(20)
          .default([])
          .describe('Each query must return one row whose first column is true.'),
      })
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
  type: z
    .string()
    .describe(
      'Ready, Reconciling, Stalled, or a step: Checked, BackedUp, MigrationsApplied, Verified, RolledBack, Restored.',
    ),
  status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
  reason: z.string().describe('A CamelCase word for the last transition, for programs.'),
  message: z.string().describe('What happened, for people.'),
  lastTransitionTime: z.string().describe('When status last changed.'),
  observedGeneration: z.number().int().optional().describe('The generation the condition was set for.'),
});
export type Condition = z.infer<typeof Condition>;

export const RunHistoryEntry = z.object({
  generation: z.number().int().describe('The generation the run carried out.'),
  attempt: z.number().int().describe('The attempt of that generation (a retry starts the next).'),
  phase: Phase.describe('The phase the run ended in.'),
  startedAt: z.string().optional().describe('When the run started.'),
  completedAt: z.string().optional().describe('When the run ended.'),
  message: z.string().optional().describe('How the run ended.'),
});
export type RunHistoryEntry = z.infer<typeof RunHistoryEntry>;

export const FrozenRun = z
  .object({
    generation: z.number().int().describe('The generation this run carries out.'),
    attempt: z.number().int().describe('The attempt of that generation.'),
    startedAt: z.string().describe('When the run started.'),
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
        checksums: z
          .record(z.string(), z.string())
          .describe('sha256 of each pending migration file, by name.'),
        pendingCount: z.number().int().nonnegative().describe('How many migrations were pending.'),
      })
      .optional()
      .describe(
        "What the run's check saw: each pending migration's file sha256 (fewer than pendingCount when its result was cut) and how many were pending. The migrate Job refuses files that differ, or other pending migrations.",
      ),
    migrationsConfigMap: z
      .object({
        name: z.string().describe('Name of the ConfigMap.'),
        uid: z.string().describe('Its uid: a replaced ConfigMap has another.'),
        resourceVersion: z.string().describe('Its resourceVersion when the run started.'),
        sha256: z.string().describe('Hash of its data and binaryData.'),
      })
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
    phase: Phase.optional().describe(
      'Where the run is: Pending, Queued, Checking, Blocked, BackingUp, Migrating, Succeeded, Failed, RollingBack, RolledBack, Restoring or Restored.',
    ),
    conditions: z
      .array(Condition)
      .optional()
      .describe(
        'kstatus conditions: Ready (True only on success), Reconciling (a run is active), Stalled (a human is needed), and one per step.',
      )
      // metav1.Condition semantics: one entry per type, merged by type under server-side apply.
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    target: z.string().optional().describe('host:port/database: the key runs are serialized on.'),
    attempt: z.number().int().optional().describe('Run attempt of this generation (retries bump it).'),
    retryToken: z.string().optional().describe('The retry annotation value the current attempt answered.'),
    jobs: z.record(z.string(), z.string()).optional().describe('Job name per step of the current run.'),
    startedAt: z.string().optional().describe('When the current run started.'),
    completedAt: z.string().optional().describe('When the current run ended.'),
    plan: z
      .object({
        pending: z
          .array(z.string())
          .describe('Pending migrations, oldest first (at most 50: see pendingCount).'),
        hash: z
          .string()
          .describe(
            'sha256 of the pending migrations and their captured SQL. To accept a blocked plan, copy it into spec.safety.approval.',
          ),
        findings: z
          .array(Finding)
          .describe('Findings of the check, blocking ones first (at most 20: see findingsCount).'),
        blocking: z
          .array(z.string())
          .optional()
          .describe('The blocking findings as migration: rule (at most 20: see blockingCount).'),
        pendingCount: z
          .number()
          .int()
          .optional()
          .describe('All pending migrations (pending may be shortened).'),
        findingsCount: z.number().int().optional().describe('All findings of the check.'),
        blockingCount: z
          .number()
          .int()
          .optional()
          .describe('Findings in the blocking categories; above 0 the run is Blocked until approved.'),
        configMap: z
          .string()
          .optional()
          .describe(
            'ConfigMap (owned by this resource) with the full plan and applied list, uncut: kubectl get configmap <name> -o jsonpath={.data.plan\\.json}',
          ),
      })
      .optional()
      .describe(
        'The plan of the current run, as checked (short: the full one is in the ConfigMap named by configMap).',
      ),
    revert: z
      .object({
        migrations: z.array(z.string()).describe('Exactly the migrations the revert undoes, newest first.'),
        reason: z.string().describe('Why the revert runs.'),
      })
      .optional()
      .describe('Recorded before the revert Job starts, so a repeated reconcile reverts nothing more.'),
    inspection: z
      .object({
        after: z.string().describe('The step whose result could not be read.'),
        reason: z.string().describe('Why it could not be read.'),
        startedAt: z.string().describe('When the inspection started.'),
      })
      .optional()
      .describe('Unknown is not failed: the database is asked what happened before any way back.'),
    rollbackDone: z
      .object({
        hash: z.string().describe('Hash of the spec.rollback that ran.'),
        generation: z.number().int().describe('The generation that ran it.'),
      })
      .optional()
      .describe('The spec.rollback last carried out: it runs once, not again on unrelated edits.'),
    backup: BackupRecord.extend({
      completedAt: z.string().optional().describe('When the backup Job ended.'),
    })
      .optional()
      .describe('The backup the current run took: what a restore would use.'),
    applied: z
      .array(
        z.object({
          name: z.string().describe('The migration.'),
          durationMs: z.number().describe('How long it took, in milliseconds.'),
        }),
      )
      .optional()
      .describe('Migrations this run applied (or reverted), with durations.'),
    appliedCount: z
      .number()
      .int()
      .optional()
      .describe('How many migrations the last run applied (or reverted); the Applied column.'),
    progress: z
      .object({
        applied: z.number().int().describe('Migrations of this run applied so far.'),
        total: z.number().int().describe('Migrations the migrate step applies in all.'),
        current: z
          .string()
          .optional()
          .describe('The migration being applied now (or the one that failed); absent once none runs.'),
        message: z
          .string()
          .describe(
            'The Progress column: "2/5: AddIndex1700000" while the 2nd of 5 runs, "5/5 applied" at the end.',
          ),
      })
      .optional()
      .describe(
        "Live progress of the run's migrate step, read from the migrate Pod's log while it runs (best effort: written when it changes, at most every few seconds); its final value stays after the step ends.",
      ),
    lastError: z
      .object({
        step: z.string().describe('The step that failed.'),
        message: z.string().describe('The error, one line, never containing credentials.'),
        code: z.string().optional().describe('PostgreSQL SQLSTATE, when the database raised it.'),
        migration: z.string().optional().describe('The migration at fault, if any.'),
      })
      .optional()
      .describe('The error of the last failed step.'),
    scaledDown: z
      .array(
        z.object({
          kind: z.string().describe('Deployment or StatefulSet.'),
          name: z.string().describe('Name of the workload.'),
          replicas: z.number().int().describe('Its replicas before the scale-down.'),
        }),
      )
      .optional()
      .describe(
        'Workloads scaled to zero (before the backup or the restore), with their former replicas: recorded before scaling, never overwritten, dropped once they are back.',
      ),
    history: z
      .array(RunHistoryEntry)
      .max(20)
      .optional()
      .describe('The last runs, newest first (at most 20).'),
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

/**
 * The key runs are serialized on. Inline connection fields: host:port/database.
 * A connection Secret: the operator never reads it, so the key is the Secret
 * (secret:namespace/name); two resources reaching one database through different
 * Secrets, or one inline and one through a Secret, are then kept apart only by the
 * migrator's PostgreSQL advisory lock (the second waits for it, then fails after
 * timeouts.advisoryLockWaitSeconds).
 */
export function targetKeyOf(
  db: { host?: string; port?: number; database?: string; connectionSecretRef?: { name: string } },
  namespace: string,
): string | undefined {
  if (db.connectionSecretRef) return `secret:${namespace}/${db.connectionSecretRef.name}`;
  if (db.host === undefined || db.database === undefined) return undefined;
  return `${db.host.toLowerCase()}:${db.port ?? 5432}/${db.database}`;
}

/** targetKeyOf a validated spec, which always names its target one way or the other. */
export function targetKey(db: DatabaseSpec, namespace: string): string {
  const key = targetKeyOf(db, namespace);
  if (key === undefined) throw new Error('spec.database names no target (validate the spec first)');
  return key;
}
