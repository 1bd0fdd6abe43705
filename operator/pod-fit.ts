// The parts of a Job Pod that make it fit the cluster and reach the database:
// the connection (inline fields or one Secret, through secretKeyRef only), the
// TLS files, and the platform's Pod settings (chart-wide defaults merged under
// the resource's jobTemplate). Pure: job-builder.ts puts the pieces in place.
import type {
  V1Affinity,
  V1EnvFromSource,
  V1EnvVar,
  V1ResourceRequirements,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import {
  scrubTarget,
  sslModeOf,
  type DatabaseMigrationSpec,
  type DatabaseSpec,
} from '../crds/database-migration.js';
import type { JobStep } from '../crds/job-result.js';
import type { JobDefaults } from '../crds/pod-template.js';

/** Where the TLS files appear in the migrator container (read-only mounts). */
export const TLS_CA_FILE = '/etc/dbmigrate/tls/ca/ca.crt';
export const TLS_CERT_FILE = '/etc/dbmigrate/tls/client/tls.crt';
export const TLS_KEY_FILE = '/etc/dbmigrate/tls/client/tls.key';

/**
 * Without requests a Pod is BestEffort: the first evicted under node pressure,
 * which for a migrate step means a run ended halfway. No limits by default: an
 * OOM kill in the middle of a migration is worse than a busy node.
 */
export const DEFAULT_RESOURCES: V1ResourceRequirements = { requests: { cpu: '100m', memory: '256Mi' } };

/** Steps whose Pod must not be evicted by a consolidation or a scale-down halfway through. */
const UNDISRUPTED_STEPS: ReadonlySet<JobStep> = new Set<JobStep>(['backup', 'migrate', 'revert', 'restore']);
export const DISRUPTION_ANNOTATIONS: Readonly<Record<string, string>> = {
  'karpenter.sh/do-not-disrupt': 'true',
  'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false',
};

const fromSecret = (name: string, secret: string, key: string): V1EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key } },
});

/** The libpq environment of the migrator: plain values, or secretKeyRefs the kubelet resolves. */
export function connectionEnv(db: DatabaseSpec): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  const ref = db.connectionSecretRef;
  if (ref) {
    env.push(
      fromSecret('PGHOST', ref.name, ref.keys.host),
      fromSecret('PGPORT', ref.name, ref.keys.port),
      fromSecret('PGDATABASE', ref.name, ref.keys.dbname),
      fromSecret('PGUSER', ref.name, ref.keys.user),
    );
  } else {
    env.push(
      { name: 'PGHOST', value: db.host ?? '' },
      { name: 'PGPORT', value: String(db.port) },
      { name: 'PGDATABASE', value: db.database ?? '' },
      { name: 'PGUSER', value: db.user ?? '' },
    );
  }
  env.push({ name: 'PGSSLMODE', value: sslModeOf(db) });
  const password = ref
    ? { name: ref.name, key: ref.keys.password }
    : db.passwordSecretRef && { name: db.passwordSecretRef.name, key: db.passwordSecretRef.key };
  if (password) env.push(fromSecret('PGPASSWORD', password.name, password.key));
  if (db.tls?.caSecretRef || db.tls?.caConfigMapRef) env.push({ name: 'PGSSLROOTCERT', value: TLS_CA_FILE });
  if (db.tls?.clientCertSecretRef)
    env.push({ name: 'PGSSLCERT', value: TLS_CERT_FILE }, { name: 'PGSSLKEY', value: TLS_KEY_FILE });
  if (db.schema) env.push({ name: 'MIGRATIONS_SCHEMA', value: db.schema });
  return env;
}

/** How the database is named on the Job (an annotation for people): never a Secret's content. */
export function targetDescription(db: DatabaseSpec): string {
  return db.connectionSecretRef
    ? `secret:${db.connectionSecretRef.name}`
    : `${scrubTarget(db.host ?? '')}:${db.port}/${db.database ?? ''}`;
}

/**
 * The CA bundle and client certificate, mounted read-only. The key is mode 0400:
 * with the Pod's fsGroup the kubelet makes it root:fsGroup 0440, which the
 * non-root migrator reads through its group and libpq accepts (a root-owned key
 * may be group-readable, never world-readable).
 */
export function tlsVolumes(db: DatabaseSpec): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  const tls = db.tls;
  if (tls?.caSecretRef) {
    volumes.push({
      name: 'dbm-tls-ca',
      secret: {
        secretName: tls.caSecretRef.name,
        items: [{ key: tls.caSecretRef.key, path: 'ca.crt' }],
        defaultMode: 0o444,
      },
    });
  } else if (tls?.caConfigMapRef) {
    volumes.push({
      name: 'dbm-tls-ca',
      configMap: {
        name: tls.caConfigMapRef.name,
        items: [{ key: tls.caConfigMapRef.key, path: 'ca.crt' }],
        defaultMode: 0o444,
      },
    });
  }
  if (volumes.length > 0)
    mounts.push({ name: 'dbm-tls-ca', mountPath: '/etc/dbmigrate/tls/ca', readOnly: true });
  const client = tls?.clientCertSecretRef;
  if (client) {
    volumes.push({
      name: 'dbm-tls-client',
      secret: {
        secretName: client.name,
        items: [
          { key: client.certKey, path: 'tls.crt', mode: 0o444 },
          { key: client.keyKey, path: 'tls.key', mode: 0o400 },
        ],
        defaultMode: 0o400,
      },
    });
    mounts.push({ name: 'dbm-tls-client', mountPath: '/etc/dbmigrate/tls/client', readOnly: true });
  }
  return { volumes, mounts };
}

/** What the platform settings add to one step's Pod. */
export interface PodFit {
  annotations: Record<string, string>;
  labels: Record<string, string>;
  affinity?: V1Affinity;
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  env: V1EnvVar[];
  envFrom: V1EnvFromSource[];
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  resources: V1ResourceRequirements;
}

/** Lists appended (defaults first), an entry of the resource replacing a default of the same key. */
function mergeBy<T>(defaults: T[] | undefined, own: T[] | undefined, key: (t: T) => string): T[] {
  const out = new Map<string, T>();
  for (const t of [...(defaults ?? []), ...(own ?? [])]) {
    const k = key(t);
    out.delete(k);
    out.set(k, t);
  }
  return [...out.values()];
}

const nonEmpty = <T extends object>(o: T): T | undefined => (Object.keys(o).length > 0 ? o : undefined);

/**
 * The chart's defaults merged under the resource's jobTemplate for one step.
 * `reservedEnv` are the variables the migrator gets from the operator: a user
 * variable of the same name is dropped (the operator's value is the contract).
 */
export function podFit(
  spec: DatabaseMigrationSpec,
  step: JobStep,
  defaults: JobDefaults = {},
  reservedEnv: ReadonlySet<string> = new Set(),
): PodFit {
  const tpl = spec.jobTemplate;
  const annotations = {
    ...(UNDISRUPTED_STEPS.has(step) ? DISRUPTION_ANNOTATIONS : {}),
    ...defaults.podAnnotations,
    ...tpl.podAnnotations,
  };
  const nodeSelector = nonEmpty({ ...defaults.nodeSelector, ...tpl.nodeSelector });
  const tolerations = [...(defaults.tolerations ?? []), ...(tpl.tolerations ?? [])];
  const affinity = (tpl.affinity ?? defaults.affinity) as V1Affinity | undefined;
  const priorityClassName = tpl.priorityClassName ?? defaults.priorityClassName;
  const resources =
    tpl.stepResources?.[step] ??
    tpl.resources ??
    defaults.stepResources?.[step] ??
    defaults.resources ??
    DEFAULT_RESOURCES;
  return {
    annotations,
    labels: { ...defaults.podLabels, ...tpl.podLabels },
    ...(affinity ? { affinity } : {}),
    ...(priorityClassName ? { priorityClassName } : {}),
    ...(nodeSelector ? { nodeSelector } : {}),
    ...(tolerations.length > 0 ? { tolerations } : {}),
    env: mergeBy(defaults.env, tpl.env, (e) => e.name).filter((e) => !reservedEnv.has(e.name)) as V1EnvVar[],
    envFrom: [...(defaults.envFrom ?? []), ...(tpl.envFrom ?? [])],
    volumes: mergeBy(defaults.volumes, tpl.volumes, (v) => v.name) as V1Volume[],
    mounts: mergeBy(defaults.volumeMounts, tpl.volumeMounts, (m) => m.mountPath),
    resources: { ...resources },
  };
}
