// Builds the Jobs of a run. Every Pod runs under restricted Pod Security:
// non-root, read-only root filesystem, no privilege escalation, no
// capabilities, RuntimeDefault seccomp and no service-account token (the
// migrator talks to PostgreSQL only, never to the API server).
import type { V1Container, V1EnvVar, V1Job, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { posix } from 'node:path';
import type { DatabaseMigration, DatabaseMigrationSpec } from '../crds/database-migration.js';
import type { JobDefaults } from '../crds/pod-template.js';
import { API_VERSION, blockingCategories, KIND } from '../crds/database-migration.js';
import { resultBudget, TERMINATION_MESSAGE_PATH, type JobStep } from '../crds/job-result.js';
import { quantityBytes } from '../crds/spec/backup.js';
import { captureContainer, captureVolume, checkSide, envWithoutTarget } from './check-pod.js';
import { COPY_MIGRATIONS_CONTAINER } from './frozen-sources.js';
import { backupId, jobLabels, jobName, runAuthor, type RunId } from './job-names.js';
import { jobServiceAccount, type JobPolicy } from './job-policy.js';
import { connectionEnv, podFit, targetDescription, tlsVolumes } from './pod-fit.js';

export interface JobBuildConfig extends JobPolicy {
  migratorImage: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** The chart's defaults for every Job, merged under each resource's jobTemplate. */
  jobDefaults?: JobDefaults;
}

/** What a step needs beyond the spec (decided by the state machine). */
export interface StepParams {
  backupPath?: string;
  revertSteps?: number;
  revertTo?: string;
  /** Exactly the migrations to undo, newest first. */
  revertMigrations?: string[];
  /** The verify Job of an inspection: the step whose result it replaces (its own Job name per step). */
  inspects?: string;
  /** Undo every migration this run identity applied, as its history rows record it (REVERT_APPLIED_BY). */
  revertAppliedBy?: string;
  /** The run's checked plan: migrate refuses other files or other pending migrations. */
  checkedPlan?: { checksums: Record<string, string>; pendingCount: number; digest?: string };
}

/** Steps that change the database: the operator decides every retry of these, never the Job controller. */
const MUTATING_STEPS: ReadonlySet<JobStep> = new Set<JobStep>(['migrate', 'revert', 'restore']);

const MIGRATIONS_MOUNT = '/migrations';
// The static copier (a statically linked busybox in the migrator image) is
// staged in an emptyDir and run from there inside the app image, which then
// needs no shell, no cp and no libc: distroless and FROM scratch images work.
const COPIER_MOUNT = '/dbm-copier';
const COPIER_IN_MIGRATOR = '/bin/busybox';
const COPIER = `${COPIER_MOUNT}/busybox`;
export const STAGE_COPIER_CONTAINER = 'stage-copier';
const BACKUPS_MOUNT = '/backups';
const DEFAULT_UID = 10001;

const STEP_COMMAND: Record<JobStep, string> = {
  check: 'check',
  backup: 'backup',
  migrate: 'migrate',
  verify: 'verify',
  revert: 'revert',
  restore: 'restore',
};

const needsMigrations = (step: JobStep) => step !== 'backup' && step !== 'restore';
const needsBackupVolume = (step: JobStep) => step === 'backup' || step === 'restore';

/** The image directory copied into the Job: copyRoot (the app's dist, for sibling imports), else path itself. */
const copyRoot = (m: DatabaseMigrationSpec['migrations']) => m.copyRoot ?? m.path;

const mountsImage = (m: DatabaseMigrationSpec['migrations']) => !!m.image && m.source === 'imageVolume';

/** Where the migrator finds the migrations: path's place inside the copied root, or inside the mounted image. */
export function migrationsDir(spec: DatabaseMigrationSpec): string {
  const m = spec.migrations;
  if (!m.image) return MIGRATIONS_MOUNT;
  if (mountsImage(m)) return posix.join(MIGRATIONS_MOUNT, m.path);
  const rel = posix.relative(copyRoot(m), m.path);
  return rel ? posix.join(MIGRATIONS_MOUNT, rel) : MIGRATIONS_MOUNT;
}

function databaseEnv(spec: DatabaseMigrationSpec): V1EnvVar[] {
  // Resolved by the kubelet from Secrets (the password always); the operator never reads them.
  return connectionEnv(spec.database);
}

/** The step's own deadline, else the one of every Job: the Job's activeDeadlineSeconds. */
export function stepDeadline(spec: DatabaseMigrationSpec, step: JobStep): number {
  return spec.jobTemplate.stepDeadlineSeconds?.[step] ?? spec.jobTemplate.activeDeadlineSeconds;
}

function stepEnv(dm: DatabaseMigration, run: RunId, step: JobStep, params: StepParams): V1EnvVar[] {
  const spec = dm.spec;
  const env: V1EnvVar[] = [
    { name: 'RESULT_PATH', value: TERMINATION_MESSAGE_PATH },
    // The migrator stops itself shortly before, so its result is written while the Pod exists.
    { name: 'STEP_DEADLINE_SECONDS', value: String(stepDeadline(spec, step)) },
    { name: 'MIGRATIONS_TABLE', value: spec.migrations.tableName },
    { name: 'ADVISORY_LOCK_WAIT_SECONDS', value: String(spec.timeouts.advisoryLockWaitSeconds) },
    {
      name: 'MIGRATION_AUTHOR',
      value: runAuthor(dm.metadata.namespace, run),
    },
  ];
  if (needsMigrations(step)) {
    env.push(
      { name: 'MIGRATIONS_DIR', value: migrationsDir(spec) },
      {
        name: 'MIGRATIONS_ROOT',
        value: mountsImage(spec.migrations)
          ? posix.join(MIGRATIONS_MOUNT, copyRoot(spec.migrations))
          : MIGRATIONS_MOUNT,
      },
      { name: 'TRANSACTION_MODE', value: spec.migrations.transactionMode },
      { name: 'LOCK_TIMEOUT_SECONDS', value: String(spec.timeouts.lockTimeoutSeconds) },
      { name: 'STATEMENT_TIMEOUT_SECONDS', value: String(spec.timeouts.statementTimeoutSeconds) },
    );
  }
  if (step === 'check') {
    // The check counts blocking findings over its full list: the 4 KiB result may shorten the list.
    env.push({ name: 'SAFETY_BLOCK', value: blockingCategories(spec).join(',') });
    const compat = spec.safety.compatibility?.queries ?? [];
    if (compat.length > 0) env.push({ name: 'COMPATIBILITY_QUERIES', value: JSON.stringify(compat) });
    env.push({
      name: 'REHEARSAL_MAX_BYTES',
      value: String(quantityBytes(spec.check?.rehearsal.maxSize ?? '1Gi')),
    });
    const seed = spec.check?.seedTables ?? [];
    if (seed.length > 0) env.push({ name: 'SEED_TABLES', value: JSON.stringify(seed) });
    const shadow = spec.check?.shadow;
    if (shadow)
      env.push(
        { name: 'SHADOW_PGHOST', value: shadow.host },
        { name: 'SHADOW_PGPORT', value: String(shadow.port) },
        { name: 'SHADOW_PGUSER', value: shadow.user },
        { name: 'SHADOW_PGDATABASE', value: shadow.database },
        { name: 'SHADOW_PGSSLMODE', value: shadow.sslMode },
        // Like the target's password: only ever a reference, resolved by the kubelet.
        {
          name: 'SHADOW_PGPASSWORD',
          valueFrom: {
            secretKeyRef: { name: shadow.passwordSecretRef.name, key: shadow.passwordSecretRef.key },
          },
        },
      );
  }
  if (step === 'migrate' || step === 'verify') {
    env.push({ name: 'VERIFY_QUERIES', value: JSON.stringify(spec.verification?.queries ?? []) });
  }
  if (needsBackupVolume(step)) {
    env.push(
      { name: 'BACKUP_DIR', value: `${BACKUPS_MOUNT}/${dm.metadata.namespace}/${dm.metadata.name}` },
      { name: 'BACKUP_FORMAT', value: spec.backup.format },
      { name: 'BACKUP_JOBS', value: String(spec.backup.parallelJobs) },
      { name: 'BACKUP_COMPRESSION', value: spec.backup.compression },
      { name: 'BACKUP_RETENTION', value: String(spec.backup.retention) },
      { name: 'BACKUP_VERIFY', value: String(spec.backup.verify) },
      { name: 'BACKUP_PROOF_MAX_BYTES', value: String(quantityBytes(spec.backup.proof.maxSize)) },
      { name: 'BACKUP_ID', value: backupId(dm.metadata.namespace, run) },
    );
  }
  if (params.backupPath) env.push({ name: 'BACKUP_PATH', value: params.backupPath });
  // The restore puts back only these schemas; the check proves the release stays inside them.
  const scope = spec.backup.restoreSchemas;
  if (scope && (step === 'restore' || step === 'check'))
    env.push({ name: 'RESTORE_SCHEMAS', value: scope.join(',') });
  if (params.revertSteps !== undefined)
    env.push(
      { name: 'REVERT_STEPS', value: String(params.revertSteps) },
      { name: 'REVERT_STEPS_ONCE', value: 'true' },
    );
  if (params.revertTo !== undefined) env.push({ name: 'REVERT_TO', value: params.revertTo });
  if (params.revertAppliedBy) env.push({ name: 'REVERT_APPLIED_BY', value: params.revertAppliedBy });
  if (params.revertMigrations !== undefined)
    env.push({ name: 'REVERT_MIGRATIONS', value: params.revertMigrations.join(',') });
  if (step === 'migrate' && params.checkedPlan) {
    env.push(
      { name: 'EXPECTED_CHECKSUMS', value: JSON.stringify(params.checkedPlan.checksums) },
      { name: 'EXPECTED_PENDING_COUNT', value: String(params.checkedPlan.pendingCount) },
    );
    if (params.checkedPlan.digest)
      env.push({ name: 'EXPECTED_PLAN_DIGEST', value: params.checkedPlan.digest });
  }
  return env;
}

const restrictedContainerSecurity = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function volumes(
  spec: DatabaseMigrationSpec,
  step: JobStep,
): { volumes: V1Volume[]; mounts: V1VolumeMount[]; tlsMounts: V1VolumeMount[] } {
  const vols: V1Volume[] = [{ name: 'tmp', emptyDir: {} }];
  const mounts: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
  if (needsMigrations(step)) {
    const m = spec.migrations;
    if (m.configMapRef) vols.push({ name: 'migrations', configMap: { name: m.configMapRef.name } });
    // The whole image, read-only: sibling imports resolve with no copy (the reference is a digest: nothing to pin).
    else if (mountsImage(m))
      vols.push({ name: 'migrations', image: { reference: m.image, pullPolicy: 'IfNotPresent' } });
    else vols.push({ name: 'migrations', emptyDir: {} }, { name: 'copier', emptyDir: { sizeLimit: '16Mi' } });
    mounts.push({ name: 'migrations', mountPath: MIGRATIONS_MOUNT, readOnly: true });
  }
  if (needsBackupVolume(step) && spec.backup.pvcName) {
    vols.push({ name: 'backups', persistentVolumeClaim: { claimName: spec.backup.pvcName } });
    mounts.push({ name: 'backups', mountPath: BACKUPS_MOUNT });
  }
  if (step === 'check') vols.push(captureVolume);
  const tls = tlsVolumes(spec.database);
  return { volumes: [...vols, ...tls.volumes], mounts, tlsMounts: tls.mounts };
}

/**
 * Copies the compiled migrations (the whole copy root) out of the application
 * image into a shared emptyDir: first the migrator image stages its static
 * copier, then the app image runs it. Nothing of the app image runs, only its
 * files are read.
 */
function copyMigrationsInits(
  spec: DatabaseMigrationSpec,
  config: JobBuildConfig,
  resources: V1Container['resources'],
): V1Container[] {
  if (!spec.migrations.image || mountsImage(spec.migrations)) return [];
  const common = { securityContext: restrictedContainerSecurity, ...(resources ? { resources } : {}) };
  return [
    {
      name: STAGE_COPIER_CONTAINER,
      image: config.migratorImage,
      imagePullPolicy: config.imagePullPolicy,
      command: [COPIER_IN_MIGRATOR, 'cp', COPIER_IN_MIGRATOR, COPIER],
      volumeMounts: [{ name: 'copier', mountPath: COPIER_MOUNT }],
      ...common,
    },
    {
      name: COPY_MIGRATIONS_CONTAINER,
      image: spec.migrations.image,
      // "<root>/." copies the root's content, dot files included, into the mount.
      command: [
        COPIER,
        'cp',
        '-R',
        `${copyRoot(spec.migrations).replace(/\/+$/, '')}/.`,
        `${MIGRATIONS_MOUNT}/`,
      ],
      volumeMounts: [
        { name: 'copier', mountPath: COPIER_MOUNT, readOnly: true },
        { name: 'migrations', mountPath: MIGRATIONS_MOUNT },
      ],
      ...common,
    },
  ];
}

export function buildJob(
  dm: DatabaseMigration,
  run: RunId,
  step: JobStep,
  config: JobBuildConfig,
  params: StepParams = {},
): V1Job {
  const spec = dm.spec;
  const tpl = spec.jobTemplate;
  const labels = jobLabels(run, step);
  const { volumes: vols, mounts: baseMounts, tlsMounts } = volumes(spec, step);
  const connection = databaseEnv(spec);
  const steps = stepEnv(dm, run, step, params);
  // The check runs migration code: its container gets the capture instead of the connection (check-pod.ts).
  const isCheck = step === 'check';
  const env = isCheck
    ? [...connection.filter((e) => e.name === 'MIGRATIONS_SCHEMA'), ...steps, ...checkSide.env]
    : [...connection, ...steps];
  const mounts = isCheck ? [...baseMounts, checkSide.mount] : [...baseMounts, ...tlsMounts];
  const fit = podFit(spec, step, config.jobDefaults, new Set([...connection, ...env].map((e) => e.name)));
  const user = isCheck ? envWithoutTarget(spec.database, fit.env, fit.envFrom) : fit;
  const resources = fit.resources;
  const capture = isCheck
    ? [
        captureContainer({
          image: config.migratorImage,
          imagePullPolicy: config.imagePullPolicy,
          env: [...connection, ...steps],
          mounts: [{ name: 'tmp', mountPath: '/tmp' }, ...tlsMounts],
          securityContext: restrictedContainerSecurity,
          resources,
        }),
      ]
    : [];
  const init = [...(needsMigrations(step) ? copyMigrationsInits(spec, config, resources) : []), ...capture];
  // Every container of the Pod shares the kubelet's 12 KiB of termination messages.
  const budget: V1EnvVar = { name: 'RESULT_MAX_BYTES', value: String(resultBudget(init.length + 1)) };
  for (const c of capture) c.env = [...(c.env ?? []), budget];
  const uid = tpl.runAsUser ?? DEFAULT_UID;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(run, step, params.inspects),
      namespace: dm.metadata.namespace,
      labels,
      annotations: {
        'dbmigrate.io/target': targetDescription(spec.database),
      },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: KIND,
          name: dm.metadata.name,
          uid: dm.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      backoffLimit: MUTATING_STEPS.has(step) ? 0 : tpl.backoffLimit,
      activeDeadlineSeconds: stepDeadline(spec, step),
      template: {
        // The operator's labels last: the informer and the run's bookkeeping depend on them.
        metadata: { labels: { ...fit.labels, ...labels }, annotations: fit.annotations },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          // Always named: the install's account, or one it allows (job-policy.ts).
          serviceAccountName: jobServiceAccount(spec, config),
          ...(fit.nodeSelector ? { nodeSelector: fit.nodeSelector } : {}),
          ...(fit.tolerations ? { tolerations: fit.tolerations } : {}),
          ...(fit.affinity ? { affinity: fit.affinity } : {}),
          ...(fit.priorityClassName ? { priorityClassName: fit.priorityClassName } : {}),
          ...(tpl.imagePullSecrets ? { imagePullSecrets: tpl.imagePullSecrets } : {}),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: uid,
            runAsGroup: uid,
            fsGroup: uid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          ...(init.length > 0 ? { initContainers: init } : {}),
          containers: [
            {
              name: 'migrator',
              image: config.migratorImage,
              imagePullPolicy: config.imagePullPolicy,
              args: [STEP_COMMAND[step]],
              // User variables first: the operator's are the contract with the migrator.
              env: [...user.env, ...env, budget],
              ...(user.envFrom.length > 0 ? { envFrom: user.envFrom } : {}),
              volumeMounts: [...mounts, ...fit.mounts],
              terminationMessagePath: TERMINATION_MESSAGE_PATH,
              terminationMessagePolicy: 'File',
              securityContext: restrictedContainerSecurity,
              resources,
            },
          ],
          volumes: [...vols, ...fit.volumes],
        },
      },
    },
  };
}
