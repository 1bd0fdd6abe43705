// Operator configuration, read once from the environment (set by the Helm chart) and
// validated with zod so a bad value fails at start-up with the variable's name, instead of
// surfacing later as a confusing runtime error.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { JobDefaults } from '../crds/pod-template.js';

export interface OperatorConfig {
  watchNamespaces: string[];
  maxConcurrentReconciles: number;
  migratorImage: string;
  migratorImagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  leaderElection: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  httpPort: number;
  httpHost: string;
  /** /metrics only for a Bearer token the API server authenticates and allows (TokenReview + SubjectAccessReview). */
  metricsAuth: boolean;
  logLevel: string;
  resyncSeconds: number;
  /** Chart-wide defaults for every Job (merged under each resource's jobTemplate). */
  jobDefaults: JobDefaults;
  /** The service account of the Job Pods (JOB_SERVICE_ACCOUNT, default `default`). */
  jobServiceAccount: string;
  /** Others spec.jobTemplate.serviceAccountName may name (JOB_ALLOWED_SERVICE_ACCOUNTS). */
  allowedServiceAccounts: string[];
}

/** Sources of non-determinism, injectable for tests. */
export interface ConfigDeps {
  hostname?: () => string;
  randomSuffix?: () => string;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Unset and empty are the same thing in an env var (Helm often renders `value: ""`). */
const opt = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be >= ${min}`).max(max, `must be <= ${max}`));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const nameList = z.string().transform((v) => [
  ...new Set(
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  ),
]);

const saName = z
  .string()
  .max(253, 'must be at most 253 characters')
  .regex(DNS1123_SUBDOMAIN, 'must be a DNS-1123 subdomain (a ServiceAccount name)');

const namespaceName = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(DNS1123_LABEL, 'must be a DNS-1123 label (a Kubernetes namespace name)');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// Keys are the environment variable names, so an issue's path *is* the variable at fault.
const envSchema = z.object({
  WATCH_NAMESPACES: opt(nameList.pipe(z.array(namespaceName))),
  JOB_SERVICE_ACCOUNT: opt(saName),
  JOB_ALLOWED_SERVICE_ACCOUNTS: opt(nameList.pipe(z.array(saName))),
  MAX_CONCURRENT_RECONCILES: opt(intIn(1, 64)),
  MIGRATOR_IMAGE: z
    .string({ error: 'is required (the migrator image reference)' })
    .trim()
    .min(1, 'is required (the migrator image reference)')
    .regex(/^\S+$/, 'must be an image reference without whitespace'),
  MIGRATOR_IMAGE_PULL_POLICY: opt(z.enum(['Always', 'IfNotPresent', 'Never'])),
  LEADER_ELECTION: opt(bool),
  POD_NAMESPACE: opt(namespaceName),
  LEASE_NAMESPACE: opt(namespaceName),
  LEASE_NAME: opt(
    z
      .string()
      .max(253, 'must be at most 253 characters')
      .regex(DNS1123_SUBDOMAIN, 'must be a DNS-1123 subdomain'),
  ),
  POD_NAME: opt(z.string().trim()),
  HTTP_PORT: opt(intIn(0, 65535)),
  HTTP_HOST: opt(z.string().trim()),
  // Default on: /metrics names every resource and its database; the chart's metrics.auth.
  METRICS_AUTH: opt(bool),
  LOG_LEVEL: opt(z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS))),
  // 0 disables the periodic re-enqueue.
  RESYNC_SECONDS: opt(intIn(0, 7 * 24 * 3600)),
  // JSON (the chart's jobDefaults): bad JSON or a bad field fails start-up, naming the field.
  JOB_DEFAULTS: opt(
    z
      .string()
      .max(256 * 1024, 'must be at most 256 KiB')
      .transform((v, ctx) => {
        try {
          return JSON.parse(v) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be JSON' });
          return z.NEVER;
        }
      })
      .pipe(JobDefaults),
  ),
});

export function loadConfig(env: NodeJS.ProcessEnv, deps: ConfigDeps = {}): OperatorConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const [variable, ...field] = i.path.map(String);
      // Inside JOB_DEFAULTS (JSON) the field matters too; elsewhere a path is a list index.
      const where = variable === 'JOB_DEFAULTS' && field.length > 0 ? ` (${field.join('.')})` : '';
      return `${variable ?? '(environment)'}${where} ${i.message}`;
    });
    throw new Error(`invalid operator configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  // Like controller-runtime: a per-process suffix, so a restarted container never mistakes the
  // lease its predecessor held for its own.
  const suffix = (deps.randomSuffix ?? (() => randomBytes(4).toString('hex')))();
  const base = e.POD_NAME ?? (deps.hostname ?? hostname)();
  return {
    watchNamespaces: e.WATCH_NAMESPACES ?? [],
    maxConcurrentReconciles: e.MAX_CONCURRENT_RECONCILES ?? 4,
    migratorImage: e.MIGRATOR_IMAGE,
    migratorImagePullPolicy: e.MIGRATOR_IMAGE_PULL_POLICY ?? 'IfNotPresent',
    leaderElection: e.LEADER_ELECTION ?? true,
    leaseNamespace: e.LEASE_NAMESPACE ?? e.POD_NAMESPACE ?? 'default',
    leaseName: e.LEASE_NAME ?? 'database-migration-operator',
    identity: `${base}_${suffix}`,
    httpPort: e.HTTP_PORT ?? 8080,
    httpHost: e.HTTP_HOST ?? '0.0.0.0',
    metricsAuth: e.METRICS_AUTH ?? true,
    logLevel: e.LOG_LEVEL ?? 'info',
    resyncSeconds: e.RESYNC_SECONDS ?? 300,
    jobDefaults: e.JOB_DEFAULTS ?? {},
    jobServiceAccount: e.JOB_SERVICE_ACCOUNT ?? 'default',
    allowedServiceAccounts: e.JOB_ALLOWED_SERVICE_ACCOUNTS ?? [],
  };
}
