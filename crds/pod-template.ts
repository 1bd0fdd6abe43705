// What a platform team sets on every Pod of its cluster (scheduling, admission,
// autoscaler and Karpenter annotations, proxies, trust bundles, resources), for
// the Jobs of one DatabaseMigration (spec.jobTemplate) and for all of them (the
// chart's jobDefaults, which the operator merges under each resource's).
import { z } from 'zod';

const dnsName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label');

// A qualified name (an optional DNS prefix and "/", then up to 63 characters), as
// the API server checks label and annotation keys.
const QUALIFIED =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const qualifiedKey = z.string().max(317).regex(QUALIFIED, 'must be a qualified name (prefix/name)');

/** A record with a bound on its entries, stated in the CRD too. */
const boundedRecord = <V extends z.ZodType>(value: V, max: number) =>
  z
    .record(qualifiedKey, value)
    .refine((r) => Object.keys(r).length <= max, { message: `must have at most ${max} entries` })
    .meta({ maxProperties: max });

/** Kubernetes resource quantities ("500m", "1Gi", "2"); checked so a typo names the field. */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
export const quantityMap = z.record(
  z.string(),
  z.string().refine((q) => QUANTITY.test(q), { message: 'is not a Kubernetes quantity (e.g. 500m, 256Mi)' }),
);
export const Resources = z
  .object({
    requests: quantityMap.optional().describe('Minimum resources (e.g. cpu: 100m, memory: 256Mi).'),
    limits: quantityMap.optional().describe('Maximum resources.'),
  })
  .describe('Container resources (requests and limits).');

const steps = ['check', 'backup', 'migrate', 'verify', 'revert', 'restore'] as const;
export const StepResources = z
  .object(
    Object.fromEntries(
      steps.map((s) => [s, Resources.optional().describe(`Resources of the ${s} step's containers.`)]),
    ) as Record<(typeof steps)[number], z.ZodOptional<typeof Resources>>,
  )
  .describe(
    'Resources per step (the check runs a throwaway PostgreSQL; backup and restore run pg_dump/pg_restore); a step without its own uses resources.',
  );

/** Volumes, mounts and env the Job Pods already carry: user additions must not collide with them. */
export const RESERVED_VOLUMES = [
  'tmp',
  'migrations',
  'backups',
  'copier',
  'dbm-tls-ca',
  'dbm-tls-client',
] as const;
const RESERVED_MOUNTS = ['/tmp', '/migrations', '/backups', '/etc/dbmigrate', '/dbm-copier'];

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * The migrator's settings that the operator decides (from the spec and the run's
 * frozen plan): a user variable must not set one on a step where the operator
 * leaves it out (a REVERT_STEPS next to the operator's REVERT_MIGRATIONS, say).
 * crds/pod-template.test.ts keeps this list and TUNABLE_MIGRATOR_ENV equal to the
 * migrator's whole environment schema.
 */
export const RESERVED_MIGRATOR_ENV = [
  'MIGRATIONS_DIR',
  'MIGRATIONS_TABLE',
  'MIGRATIONS_SCHEMA',
  'HISTORY_TABLE',
  'TRANSACTION_MODE',
  'LOCK_TIMEOUT_SECONDS',
  'STATEMENT_TIMEOUT_SECONDS',
  'STEP_DEADLINE_SECONDS',
  'ADVISORY_LOCK_WAIT_SECONDS',
  'BACKUP_DIR',
  'BACKUP_FORMAT',
  'BACKUP_JOBS',
  'BACKUP_COMPRESSION',
  'BACKUP_RETENTION',
  'BACKUP_VERIFY',
  'BACKUP_PROOF_MAX_BYTES',
  'BACKUP_ID',
  'BACKUP_PATH',
  'SAFETY_BLOCK',
  'RESTORE_DROP_NEW_TABLES',
  'REVERT_STEPS',
  'REVERT_TO',
  'REVERT_MIGRATIONS',
  'REVERT_STEPS_ONCE',
  'RESTORE_SCHEMAS',
  'VERIFY_QUERIES',
  'SHADOW_PG_BIN_DIR',
  'SHADOW_DATA_DIR',
  'CAPTURE_DIR',
  'MIGRATIONS_ROOT',
  'RESULT_MAX_BYTES',
  'REHEARSAL_MAX_BYTES',
  'SEED_TABLES',
  'SHADOW_PGHOST',
  'SHADOW_PGPORT',
  'SHADOW_PGUSER',
  'SHADOW_PGPASSWORD',
  'SHADOW_PGDATABASE',
  'SHADOW_PGSSLMODE',
  'COMPATIBILITY_QUERIES',
  'COMPATIBILITY_ENTITIES_DIR',
  'EXPECTED_CHECKSUMS',
  'EXPECTED_PLAN_DIGEST',
  'REVERT_APPLIED_BY',
  'EXPECTED_PENDING_COUNT',
  'RESULT_PATH',
  'MIGRATION_AUTHOR',
  'PG_CLIENT_BIN_DIR',
  'PG_BIN_DIR',
] as const;
/** Migrator settings a platform may tune through env (PG* names are refused separately). */
export const TUNABLE_MIGRATOR_ENV = [
  'ENTITIES_DIR',
  'IDLE_IN_TRANSACTION_TIMEOUT_SECONDS',
  'SHUTDOWN_GRACE_SECONDS',
] as const;
const reservedEnv: ReadonlySet<string> = new Set(RESERVED_MIGRATOR_ENV);
export const EnvVar = z
  .object({
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(ENV_NAME, 'must be an environment variable name')
      .refine((n) => !n.startsWith('PG'), {
        message: 'PG* variables are the connection: set them through spec.database',
      })
      .refine((n) => !reservedEnv.has(n), {
        message: 'is a migrator setting the operator derives from the spec',
      })
      .describe(
        'Variable name. PG* names (the connection) and the migrator settings the operator derives from the spec are refused.',
      ),
    value: z.string().max(32768).optional().describe('A plain value (never a secret).'),
    valueFrom: z
      .object({
        configMapKeyRef: z
          .object({
            name: dnsName.describe('ConfigMap name.'),
            key: z.string().min(1).max(253).describe('Key within the ConfigMap.'),
            optional: z.boolean().optional().describe('Start the Pod even when the key is missing.'),
          })
          .describe('A key of a ConfigMap of the namespace.'),
      })
      .optional()
      .describe('A value from a ConfigMap (Secrets belong in spec.database only).'),
  })
  .refine((e) => (e.value === undefined) !== (e.valueFrom === undefined), {
    message: 'set exactly one of value and valueFrom',
  })
  .describe('An environment variable of the migrator container: a plain value or a ConfigMap key.');

export const EnvFromSource = z
  .object({
    configMapRef: z
      .object({
        name: dnsName.describe('ConfigMap name.'),
        optional: z.boolean().optional().describe('Start the Pod even when the ConfigMap is missing.'),
      })
      .describe('Every key of a ConfigMap as a variable.'),
    prefix: z.string().max(64).regex(ENV_NAME).optional().describe('Prefix of each variable name.'),
  })
  .describe('Variables from a ConfigMap (non-secret).');

/**
 * The volume types a DatabaseMigration may add to its Job Pods. Nothing that
 * carries a credential (secret, projected service-account tokens) nor reaches
 * the node (hostPath): creating a DatabaseMigration must not be a way to mount
 * a Secret or a token the creator could not read otherwise.
 */
export const ALLOWED_VOLUME_TYPES = [
  'configMap',
  'emptyDir',
  'csi',
  'persistentVolumeClaim',
  'image',
] as const;
const volumeSource = (what: string) =>
  z.looseObject({}).optional().describe(`A core/v1 ${what} volume source.`);
const onlyOneSource = `exactly one of ${ALLOWED_VOLUME_TYPES.join(', ')} (secret, projected, hostPath and the other types are not allowed)`;

const notReserved = (v: { name: string }) => !(RESERVED_VOLUMES as readonly string[]).includes(v.name);
const reservedMessage = `must not be one of the Job's own volumes (${RESERVED_VOLUMES.join(', ')})`;
const small = (v: unknown) => JSON.stringify(v).length <= 8192;

// A core/v1 Volume of an allowed type. Strict: any other key (secret, projected,
// hostPath, ...) is refused by name here, and the CRD schema prunes it, so the
// API server refuses the volume it leaves without a source (the CEL rule) and a
// strict client (kubectl) reports the unknown field itself.
export const ExtraVolume = z
  .strictObject({
    name: dnsLabel.describe('Volume name.'),
    configMap: volumeSource('ConfigMap'),
    emptyDir: volumeSource('EmptyDir'),
    csi: volumeSource('CSI'),
    persistentVolumeClaim: volumeSource('PersistentVolumeClaim'),
    image: volumeSource('Image (OCI artifact)'),
  })
  .refine(notReserved, { message: reservedMessage, path: ['name'] })
  .refine((v) => ALLOWED_VOLUME_TYPES.filter((t) => v[t] !== undefined).length === 1, {
    message: `must set ${onlyOneSource}`,
  })
  .refine(small, { message: 'must be at most 8 KiB of JSON' })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: `[${ALLOWED_VOLUME_TYPES.map((t) => `has(self.${t})`).join(', ')}].filter(x, x).size() == 1`,
        message: `a volume must set ${onlyOneSource}`,
      },
    ],
  })
  .describe(
    `A core/v1 Volume of one of the allowed types (${ALLOWED_VOLUME_TYPES.join(', ')}): mount it with volumeMounts. No secret, projected, hostPath or other type: the Pods get credentials from spec.database only.`,
  );

// The chart's jobDefaults (set by whoever installs the operator) may add any
// core/v1 Volume but hostPath (a trust bundle from a Secret, say).
export const PlatformVolume = z
  .looseObject({ name: dnsLabel.describe('Volume name.') })
  .refine(notReserved, { message: reservedMessage, path: ['name'] })
  .refine((v) => !('hostPath' in v), {
    message: 'hostPath volumes are not allowed (restricted Pod Security)',
  })
  .refine(small, { message: 'must be at most 8 KiB of JSON' })
  .describe(
    'A core/v1 Volume (configMap, secret, projected, csi, emptyDir, ...): mount it with volumeMounts.',
  );

export const ExtraVolumeMount = z
  .object({
    name: dnsLabel.describe('Name of a volume of volumes (this one or the chart defaults).'),
    mountPath: z
      .string()
      .min(2)
      .max(1024)
      .regex(/^\//, 'must be an absolute path')
      .refine((p) => !RESERVED_MOUNTS.some((r) => p === r || p.startsWith(`${r}/`)), {
        message: `must not be under ${RESERVED_MOUNTS.join(', ')}`,
      })
      .describe('Where it appears in the migrator container.'),
    readOnly: z.boolean().optional().describe('Mount read-only.'),
    subPath: z.string().max(1024).optional().describe('A path within the volume.'),
  })
  .describe('A mount of the migrator container.');

export const Affinity = z
  .looseObject({})
  .refine((a) => JSON.stringify(a).length <= 16384, { message: 'must be at most 16 KiB of JSON' })
  .describe('A core/v1 Affinity (nodeAffinity, podAffinity, podAntiAffinity) of the Job Pods.');

export const Toleration = z
  .object({
    key: z.string().max(317).optional().describe('Taint key (empty with Exists: every taint).'),
    operator: z.enum(['Exists', 'Equal']).optional().describe('Exists or Equal (default).'),
    value: z.string().max(63).optional().describe('Taint value for Equal.'),
    effect: z.string().max(32).optional().describe('NoSchedule, PreferNoSchedule or NoExecute (empty: all).'),
    tolerationSeconds: z.number().int().optional().describe('How long a NoExecute taint is tolerated.'),
  })
  .describe('A core/v1 Toleration.');

/** The fields shared by spec.jobTemplate and the chart-wide defaults. */
export const podFitFields = {
  podAnnotations: boundedRecord(z.string().max(8192), 64)
    .optional()
    .describe(
      'Annotations of the Job Pods (e.g. sidecar.istio.io/inject: "false"). They win over the operator\'s: on the mutating steps (backup, migrate, revert, restore) the Pods carry karpenter.sh/do-not-disrupt: "true" and cluster-autoscaler.kubernetes.io/safe-to-evict: "false" unless set here.',
    ),
  podLabels: boundedRecord(
    z
      .string()
      .max(63)
      .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, 'must be a label value'),
    32,
  )
    .optional()
    .describe("Labels of the Job Pods (the operator's own labels cannot be replaced)."),
  affinity: Affinity.optional(),
  priorityClassName: dnsName.optional().describe('PriorityClass of the Job Pods.'),
  env: z
    .array(EnvVar)
    .max(64)
    .optional()
    .describe(
      'Extra environment of the migrator container (proxies, NODE_OPTIONS, NODE_EXTRA_CA_CERTS, ...).',
    ),
  envFrom: z.array(EnvFromSource).max(16).optional().describe('Extra environment from ConfigMaps.'),
  volumes: z.array(ExtraVolume).max(16).optional().describe('Extra volumes of the Job Pods.'),
  volumeMounts: z
    .array(ExtraVolumeMount)
    .max(16)
    .optional()
    .describe('Extra mounts of the migrator container.'),
  stepResources: StepResources.optional(),
};

/**
 * Chart-wide defaults for every Job (the operator's JOB_DEFAULTS, JSON): merged
 * under each resource's jobTemplate (maps key by key, lists appended, the
 * resource winning on a name), applied when a Job is built.
 */
export const JobDefaults = z
  .object({
    ...podFitFields,
    resources: Resources.optional().describe('Resources of every step without its own.'),
    nodeSelector: boundedRecord(z.string().max(63), 32)
      .optional()
      .describe('Node labels the Pods must match.'),
    tolerations: z.array(Toleration).max(32).optional().describe('Tolerations of the Job Pods.'),
    volumes: z.array(PlatformVolume).max(16).optional().describe('Extra volumes of the Job Pods.'),
  })
  .describe('Defaults for the Jobs of every DatabaseMigration.');
export type JobDefaults = z.infer<typeof JobDefaults>;
