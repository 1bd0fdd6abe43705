// The check Job's Pod in two halves. Only the first, `capture`, holds the
// target's credentials: it runs pg_dump --schema-only and catalog reads (no
// migration file is loaded there) and writes them to an emptyDir. The second,
// the check container, runs the migration code on a private PostgreSQL in the
// Pod and gets nothing that reaches the target: no PG* of the target, no
// Secret of its password, no TLS client certificate.
import type {
  V1Container,
  V1EnvFromSource,
  V1EnvVar,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { DatabaseSpec } from '../crds/database-migration.js';
import { CONNECTION_ENV, TERMINATION_MESSAGE_PATH } from '../crds/job-result.js';

export const CAPTURE_CONTAINER = 'capture';
const CAPTURE_MOUNT = '/capture';

export const captureVolume: V1Volume = { name: 'capture', emptyDir: { sizeLimit: '1Gi' } };

/** Secrets that hold the target's credentials: never given to the check container, by name or by reference. */
export function targetSecrets(db: DatabaseSpec): Set<string> {
  const names = new Set<string>();
  if (db.connectionSecretRef) names.add(db.connectionSecretRef.name);
  if (db.passwordSecretRef) names.add(db.passwordSecretRef.name);
  if (db.tls?.clientCertSecretRef) names.add(db.tls.clientCertSecretRef.name);
  return names;
}

/** The user's env for the check container: nothing named like a connection, nothing read from the target's Secrets. */
export function envWithoutTarget(
  db: DatabaseSpec,
  env: V1EnvVar[],
  envFrom: V1EnvFromSource[],
): { env: V1EnvVar[]; envFrom: V1EnvFromSource[] } {
  const secrets = targetSecrets(db);
  return {
    env: env.filter(
      (e) =>
        !CONNECTION_ENV.test(e.name) &&
        !(e.valueFrom?.secretKeyRef?.name && secrets.has(e.valueFrom.secretKeyRef.name)),
    ),
    envFrom: envFrom.filter((s) => !(s.secretRef?.name && secrets.has(s.secretRef.name))),
  };
}

export interface CaptureParts {
  image: string;
  imagePullPolicy: V1Container['imagePullPolicy'];
  /** The connection (Secrets resolved by the kubelet) and the step's settings. */
  env: V1EnvVar[];
  /** /tmp and the TLS files. */
  mounts: V1VolumeMount[];
  securityContext: V1Container['securityContext'];
  resources?: V1Container['resources'];
}

/** The capture init container: its failure's result is read as the check's. */
export function captureContainer(p: CaptureParts): V1Container {
  return {
    name: CAPTURE_CONTAINER,
    image: p.image,
    imagePullPolicy: p.imagePullPolicy,
    args: ['capture'],
    env: [...p.env, { name: 'CAPTURE_DIR', value: CAPTURE_MOUNT }],
    volumeMounts: [...p.mounts, { name: captureVolume.name, mountPath: CAPTURE_MOUNT }],
    terminationMessagePath: TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: 'File',
    securityContext: p.securityContext,
    ...(p.resources ? { resources: p.resources } : {}),
  };
}

/** What the check container gets instead of the connection. */
export const checkSide = {
  env: [{ name: 'CAPTURE_DIR', value: CAPTURE_MOUNT }] as V1EnvVar[],
  mount: { name: captureVolume.name, mountPath: CAPTURE_MOUNT, readOnly: true } as V1VolumeMount,
};
