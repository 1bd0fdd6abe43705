// Shared helpers of the integration tests: real API server (from KUBECONFIG,
// set by the global setup), the operator as a real child process running with
// the chart's own RBAC (a ServiceAccount token: no access to Secrets), and
// envtest-style completion of Job Pods (there is no node in this suite).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { GROUP, PLURAL, VERSION, type DatabaseMigration } from '../../crds/database-migration.js';
import type { JobResult, JobStep } from '../../crds/job-result.js';
import { freePort } from '../lib/ports.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export function adminConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (!process.env.KUBECONFIG)
    throw new Error('KUBECONFIG is not set: the integration global setup did not run');
  kc.loadFromFile(process.env.KUBECONFIG);
  return kc;
}

export interface Clients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  batch: k8s.BatchV1Api;
  custom: k8s.CustomObjectsApi;
  rbac: k8s.RbacAuthorizationV1Api;
  apps: k8s.AppsV1Api;
  coordination: k8s.CoordinationV1Api;
  objects: k8s.KubernetesObjectApi;
}

export function clients(kc = adminConfig()): Clients {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
  };
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Server-side apply of any object (create or update). */
export async function apply(c: Clients, obj: k8s.KubernetesObject): Promise<void> {
  await c.objects.patch(obj, undefined, undefined, 'dbm-tests', true, k8s.PatchStrategy.ServerSideApply);
}

/**
 * Applies the generated CRD with kubectl: client-node's object serializer maps
 * known fields only and would silently drop `x-kubernetes-*` extensions (CEL).
 */
export async function ensureCrd(c: Clients): Promise<void> {
  const applied = kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    join(ROOT, 'crds/generated/databasemigrations.dbmigrate.io.yaml'),
  ]);
  if (applied.status !== 0) throw new Error(`could not apply the CRD: ${applied.stderr}`);
  await waitFor('the CRD to be established', async () => {
    const crd = (await c.objects.read({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${PLURAL}.${GROUP}` },
    })) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return crd.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
  });
}

export async function createNamespace(c: Clients, name: string): Promise<void> {
  await c.core.createNamespace({ body: { metadata: { name } } });
}

export function helmTemplate(release: string, namespace: string, set: string[] = []): k8s.KubernetesObject[] {
  const helm = spawnSync(
    'bash',
    [
      '-c',
      `source scripts/tools.sh >/dev/null && "$HELM" template "$0" charts/database-migration-operator --namespace "$1" ${set.map((s) => `--set ${s}`).join(' ')}`,
      release,
      namespace,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (helm.status !== 0) throw new Error(`helm template failed: ${helm.stderr}`);
  return parseAllDocuments(helm.stdout)
    .map((d) => d.toJSON() as k8s.KubernetesObject | null)
    .filter((d): d is k8s.KubernetesObject => Boolean(d));
}

export interface OperatorIdentity {
  kubeconfigPath: string;
  serviceAccount: string;
  leaseName: string;
  namespace: string;
}

/**
 * Installs the chart's ServiceAccount and RBAC (nothing else) for `release` and
 * returns a kubeconfig that authenticates as that ServiceAccount, so the
 * operator under test has exactly the permissions a real install gives it.
 * The suites watch namespaces they create later, so by default the RBAC is the
 * chart's cluster-wide variant (rbac.clusterWide: the same verbs as its Roles).
 */
export async function operatorIdentity(
  c: Clients,
  release: string,
  namespace: string,
  set: string[] = ['rbac.clusterWide=true'],
): Promise<OperatorIdentity> {
  const objects = helmTemplate(release, namespace, set);
  const wanted = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  let serviceAccount = '';
  for (const o of objects) {
    if (!wanted.has(o.kind ?? '')) continue;
    if (o.kind === 'ServiceAccount') serviceAccount = o.metadata?.name ?? '';
    await apply(c, o);
  }
  if (!serviceAccount) throw new Error('the chart rendered no ServiceAccount');
  const token = await c.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = c.kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in KUBECONFIG');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: serviceAccount, token: token.status?.token }],
    contexts: [{ name: 'operator', cluster: cluster.name, user: serviceAccount }],
    currentContext: 'operator',
  });
  const dir = join(ROOT, '.tmp', 'kubeconfigs');
  mkdirSync(dir, { recursive: true });
  const kubeconfigPath = join(dir, `${release}.yaml`);
  writeFileSync(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
  const leader = objects.find((o) => o.kind === 'Role' && o.metadata?.name?.includes('leader')) as
    { rules?: { resourceNames?: string[] }[] } | undefined;
  const leaseName = leader?.rules?.flatMap((r) => r.resourceNames ?? [])[0] ?? `${release}-leader`;
  return { kubeconfigPath, serviceAccount, leaseName, namespace };
}

export interface RunningOperator {
  process: ChildProcess;
  port: number;
  logs: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startOperator(
  identity: OperatorIdentity,
  watchNamespace: string,
  name: string,
  extraEnv: Record<string, string> = {},
): Promise<RunningOperator> {
  const main = join(ROOT, 'dist/operator/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first (npm test does)`);
  const port = await freePort();
  let output = '';
  const child = spawn(join(ROOT, 'node_modules/.bin/node'), [main], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      KUBECONFIG: identity.kubeconfigPath,
      MIGRATOR_IMAGE: 'database-migration-operator/migrator:test',
      WATCH_NAMESPACES: watchNamespace,
      LEASE_NAMESPACE: identity.namespace,
      LEASE_NAME: identity.leaseName,
      POD_NAME: name,
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      // The suites read /metrics without a token; metrics-auth.test.ts turns the check on.
      METRICS_AUTH: 'false',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(`operator ${name} to be ready`, async () => {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `operator exited with ${child.exitCode ?? child.signalCode} before it was ready: ${output.slice(-2000)}`,
      );
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    return res?.ok;
  });
  return {
    process: child,
    port,
    logs: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export function baseResource(
  name: string,
  namespace: string,
  db = 'shop',
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'DatabaseMigration',
    metadata: { name, namespace },
    spec: {
      database: {
        host: 'postgres.db.svc',
        database: db,
        user: 'app',
        passwordSecretRef: { name: 'db-credentials', key: 'password' },
      },
      migrations: { image: 'example/product-service:2' },
      backup: { pvcName: 'backups' },
      // The test plays the kubelet: if the cluster has a node, keep the Pods off it.
      jobTemplate: { nodeSelector: { 'dbmigrate.io/integration-test': 'no-node-matches' } },
      ...overrides,
    },
  };
}

export async function createResource(c: Clients, body: Record<string, unknown>): Promise<DatabaseMigration> {
  const ns = (body.metadata as { namespace: string }).namespace;
  return (await c.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
    body,
  })) as DatabaseMigration;
}

export async function getResource(c: Clients, namespace: string, name: string): Promise<DatabaseMigration> {
  return (await c.custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    name,
  })) as DatabaseMigration;
}

export async function waitForPhase(
  c: Clients,
  namespace: string,
  name: string,
  phase: string,
  timeoutMs = 60_000,
): Promise<DatabaseMigration> {
  return waitFor(
    `${namespace}/${name} to reach phase ${phase}`,
    async () => {
      const dm = await getResource(c, namespace, name);
      return dm.status?.phase === phase ? dm : undefined;
    },
    timeoutMs,
  );
}

export async function jobsOf(c: Clients, namespace: string, step?: JobStep): Promise<k8s.V1Job[]> {
  const selector = [
    'app.kubernetes.io/managed-by=database-migration-operator',
    ...(step ? [`dbmigrate.io/step=${step}`] : []),
  ].join(',');
  return (await c.batch.listNamespacedJob({ namespace, labelSelector: selector })).items;
}

export async function waitForJob(
  c: Clients,
  namespace: string,
  step: JobStep,
  timeoutMs = 60_000,
): Promise<k8s.V1Job> {
  return waitFor(
    `a ${step} Job in ${namespace}`,
    async () => (await jobsOf(c, namespace, step))[0],
    timeoutMs,
  );
}

export function result(step: JobStep, extra: Partial<JobResult> = {}): JobResult {
  const now = new Date();
  return {
    step,
    ok: true,
    startedAt: new Date(now.getTime() - 1500).toISOString(),
    finishedAt: now.toISOString(),
    ...extra,
  };
}

/**
 * There is no kubelet in this suite, so the test plays it: it marks the Job's
 * Pod terminated with the result as its termination message, as envtest-style
 * tests do; the real Job controller then completes or fails the Job.
 */
export async function finishJobPod(
  c: Clients,
  job: k8s.V1Job,
  res: JobResult,
  /** The imageID the kubelet reports for the init container that copied the migrations. */
  opts: { migrationsImageID?: string } = {},
): Promise<void> {
  const namespace = job.metadata!.namespace!;
  const pod = await waitFor(`a Pod of Job ${job.metadata?.name}`, async () => {
    const pods = await c.core.listNamespacedPod({
      namespace,
      labelSelector: `batch.kubernetes.io/job-name=${job.metadata!.name}`,
    });
    return pods.items[0];
  });
  const exitCode = res.ok ? 0 : 1;
  const now = new Date();
  const body: k8s.V1Pod = {
    ...pod,
    status: {
      ...pod.status,
      phase: res.ok ? 'Succeeded' : 'Failed',
      ...(opts.migrationsImageID
        ? {
            initContainerStatuses: (pod.spec?.initContainers ?? []).map((ic) => ({
              name: ic.name,
              image: ic.image ?? '',
              imageID: opts.migrationsImageID ?? '',
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
            })),
          }
        : {}),
      containerStatuses: [
        {
          name: 'migrator',
          image: pod.spec!.containers[0]!.image!,
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode,
              reason: res.ok ? 'Completed' : 'Error',
              message: JSON.stringify(res),
              startedAt: now,
              finishedAt: now,
            },
          },
        },
      ],
    },
  };
  try {
    await c.core.replaceNamespacedPodStatus({ name: pod.metadata!.name!, namespace, body });
  } catch (err) {
    // The scheduler may update the Pod (PodScheduled) between our read and write: read again.
    if ((err as { code?: number }).code !== 409) throw err;
    await finishJobPod(c, job, res, opts);
  }
}

export async function waitForJobDone(c: Clients, job: k8s.V1Job): Promise<void> {
  await waitFor(`Job ${job.metadata?.name} to finish`, async () => {
    const j = await c.batch.readNamespacedJob({
      name: job.metadata!.name!,
      namespace: job.metadata!.namespace!,
    });
    return j.status?.conditions?.some(
      (x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True',
    );
  });
}

export const planResult = (
  pending = ['AddProductAttributes1709123456789', 'SeedProductCategories1709123456790'],
) => result('check', { plan: { pending, hash: 'a'.repeat(64), findings: [], notCaptured: [] } });
export const backupResult = () =>
  result('backup', {
    backup: {
      path: '/backups/x.dump',
      format: 'custom',
      sizeBytes: 123456,
      sha256: 'b'.repeat(64),
      verified: true,
      serverVersion: '15.18',
    },
  });
export const migrateResult = () =>
  result('migrate', {
    migrations: [
      { name: 'AddProductAttributes1709123456789', durationMs: 41, outcome: 'applied' },
      { name: 'SeedProductCategories1709123456790', durationMs: 17, outcome: 'applied' },
    ],
    verify: { pending: [], problems: [] },
  });

/** Drives a run through check, backup and migrate by finishing each Job's Pod. */
export async function driveToSuccess(c: Clients, namespace: string): Promise<void> {
  for (const [step, res] of [
    ['check', planResult()],
    ['backup', backupResult()],
    ['migrate', migrateResult()],
  ] as const) {
    const job = await waitForJob(c, namespace, step);
    await finishJobPod(c, job, res);
  }
}

export function kubectl(
  args: string[],
  timeoutMs = 60_000,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    'bash',
    ['-c', 'source scripts/tools.sh >/dev/null && "$KUBECTL" "$@"', 'kubectl', ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: timeoutMs,
      env: { ...process.env },
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function deleteNamespace(c: Clients, name: string): Promise<void> {
  await c.core.deleteNamespace({ name }).catch(() => undefined);
}

/**
 * Counts the API requests a user made in a time window, from the local
 * cluster's audit log (test/cluster/up.sh audits service accounts).
 */
export function auditedRequests(
  username: string,
  from: Date,
  to: Date,
): { total: number; byVerb: Record<string, number> } | undefined {
  const path = join(ROOT, '.local-cluster/logs/audit.log');
  if (!existsSync(path)) return undefined;
  const ids = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.includes(username)) continue;
    const e = JSON.parse(line) as {
      auditID: string;
      verb: string;
      user: { username: string };
      requestReceivedTimestamp: string;
      objectRef?: { resource?: string };
    };
    const t = Date.parse(e.requestReceivedTimestamp);
    if (e.user.username !== username || t < from.getTime() || t > to.getTime()) continue;
    ids.set(e.auditID, `${e.verb} ${e.objectRef?.resource ?? ''}`.trim());
  }
  const byVerb: Record<string, number> = {};
  for (const v of ids.values()) byVerb[v] = (byVerb[v] ?? 0) + 1;
  return { total: ids.size, byVerb };
}

/**
 * The usual suite setup: a watched namespace and a system namespace, the operator
 * started with the chart's RBAC before the suite and stopped (namespaces deleted) after.
 */
export function operatorSuite(
  prefix: string,
  lease: string,
): { c: Clients; ns: string; system: string; operator: () => RunningOperator } {
  const c = clients();
  const ns = uniqueName(prefix);
  const system = uniqueName(`${prefix}-sys`);
  let operator: RunningOperator | undefined;
  beforeAll(async () => {
    await ensureCrd(c);
    await createNamespace(c, ns);
    await createNamespace(c, system);
    operator = await startOperator(await operatorIdentity(c, system, system), ns, lease);
  }, 120_000);
  afterAll(async () => {
    await operator?.stop();
    await deleteNamespace(c, ns);
    await deleteNamespace(c, system);
  });
  return {
    c,
    ns,
    system,
    operator: () => {
      if (!operator) throw new Error('the operator has not started');
      return operator;
    },
  };
}
