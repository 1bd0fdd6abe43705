// `migrator wait` (the Helm hook waiter) against the real API server: the test
// plays the operator by writing the status subresource.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { GROUP, PLURAL, VERSION, type DatabaseMigration } from '../../crds/database-migration.js';
import {
  ROOT,
  apply,
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  ensureCrd,
  uniqueName,
  waitFor,
} from './harness.js';

const c = clients();
const ns = uniqueName('it-wait');
const waiters: Waiter[] = [];

interface Waiter {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function startWait(name: string, env: Record<string, string> = {}, base?: Record<string, string>): Waiter {
  let out = '';
  const child = spawn(
    join(ROOT, 'node_modules/.bin/node'),
    ['--import', 'tsx', 'migrator-image/src/main.ts', 'wait'],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        ...(base ?? { KUBECONFIG: process.env.KUBECONFIG ?? '', DBM_NAMESPACE: ns }),
        DBM_NAME: name,
        WAIT_POLL_SECONDS: '0.5',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const w = { child, output: () => out, exit };
  waiters.push(w);
  return w;
}

async function setStatus(
  name: string,
  status: (dm: DatabaseMigration) => DatabaseMigration['status'],
): Promise<void> {
  const dm = (await c.custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
    name,
  })) as DatabaseMigration;
  await c.custom.replaceNamespacedCustomObjectStatus({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
    name,
    body: { ...dm, status: status(dm) },
  });
}

const now = () => new Date().toISOString();
const cond = (type: string, status: 'True' | 'False', reason: string, message: string, gen: number) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: now(),
  observedGeneration: gen,
});

/** Resolves with the exit code, or undefined if still running after ms. */
async function exitWithin(w: Waiter, ms: number): Promise<number | null | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([w.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
});

const tmpDirs: string[] = [];

/** The example chart's hook objects, rendered for this namespace. */
function exampleHookObjects(): KubernetesObject[] {
  const r = spawnSync(
    'bash',
    [
      '-c',
      'source scripts/tools.sh >/dev/null && "$HELM" template shop charts/examples/product-service --namespace "$0"',
      ns,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJSON() as KubernetesObject | null)
    .filter((d): d is KubernetesObject => Boolean(d));
}

/**
 * What the kubelet mounts into a Pod of `serviceAccount`: a token, the
 * cluster CA and the namespace, plus the API server address as the
 * KUBERNETES_SERVICE_* variables. No KUBECONFIG: the in-cluster path.
 */
async function podEnvironment(serviceAccount: string): Promise<Record<string, string>> {
  const token = await c.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = c.kc.getCurrentCluster();
  if (!cluster?.caData) throw new Error('the test kubeconfig has no inline CA');
  const server = new URL(cluster.server);
  const dir = mkdtempSync(join(tmpdir(), 'dbm-wait-sa-'));
  tmpDirs.push(dir);
  writeFileSync(join(dir, 'token'), token.status?.token ?? '', { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), Buffer.from(cluster.caData, 'base64'));
  writeFileSync(join(dir, 'namespace'), ns);
  return {
    KUBERNETES_SERVICE_HOST: server.hostname.replace(/^\[|\]$/g, ''),
    KUBERNETES_SERVICE_PORT: server.port || '443',
    DBM_SERVICEACCOUNT_DIR: dir,
  };
}

afterAll(async () => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  for (const w of waiters)
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(waiters.map((w) => w.exit));
  await deleteNamespace(c, ns);
});

describe('migrator wait', () => {
  it('prints progress and exits 0 once Ready=True for the current generation', async () => {
    await createResource(c, baseResource('ready', ns));
    const w = startWait('ready');
    await waitFor(
      'the waiter to print the first progress line',
      async () => w.output().includes('"generation"'),
      30_000,
    );
    await setStatus('ready', (dm) => ({
      observedGeneration: dm.metadata.generation,
      phase: 'Migrating',
      conditions: [
        cond('Ready', 'False', 'Migrating', 'applying 2 migrations', dm.metadata.generation),
        cond('Reconciling', 'True', 'Migrating', 'applying 2 migrations', dm.metadata.generation),
      ],
    }));
    await waitFor(
      'the Migrating progress line',
      async () => w.output().includes('applying 2 migrations'),
      30_000,
    );
    expect(await exitWithin(w, 1500)).toBeUndefined();
    await setStatus('ready', (dm) => ({
      observedGeneration: dm.metadata.generation,
      phase: 'Succeeded',
      conditions: [
        cond('Ready', 'True', 'Succeeded', '2 migrations applied', dm.metadata.generation),
        cond('Reconciling', 'False', 'Succeeded', '2 migrations applied', dm.metadata.generation),
      ],
    }));
    expect(await exitWithin(w, 30_000)).toBe(0);
    expect(w.output()).toContain('is Ready');
  });

  it('exits 1 with the Stalled reason and message', async () => {
    await createResource(c, baseResource('stalled', ns));
    const w = startWait('stalled');
    await setStatus('stalled', (dm) => ({
      observedGeneration: dm.metadata.generation,
      phase: 'Failed',
      lastError: { step: 'migrate', message: 'relation "products" already exists' },
      conditions: [
        cond(
          'Ready',
          'False',
          'MigrationFailed',
          'relation "products" already exists',
          dm.metadata.generation,
        ),
        cond(
          'Stalled',
          'True',
          'MigrationFailed',
          'relation "products" already exists',
          dm.metadata.generation,
        ),
      ],
    }));
    expect(await exitWithin(w, 30_000)).toBe(1);
    expect(w.output()).toContain('MigrationFailed');
    expect(w.output()).toContain('relation \\"products\\" already exists');
  });

  it('keeps waiting on a brand-new resource the operator has not touched', async () => {
    await createResource(c, baseResource('fresh', ns));
    const w = startWait('fresh');
    await waitFor('a progress line', async () => w.output().includes('fresh'), 30_000);
    expect(await exitWithin(w, 4000)).toBeUndefined();
    w.child.kill('SIGTERM');
    await w.exit;
  });

  it('keeps waiting for a resource that does not exist yet, then times out with the last phase', async () => {
    const w = startWait('absent', { WAIT_TIMEOUT_SECONDS: '3' });
    expect(await exitWithin(w, 30_000)).toBe(1);
    expect(w.output()).toContain('does not exist yet');
    expect(w.output()).toContain('timed out after 3s');
  });

  it('exits 2 without DBM_NAME', async () => {
    const w = startWait('');
    expect(await exitWithin(w, 30_000)).toBe(2);
    expect(w.output()).toContain('DBM_NAME is required');
  });

  it("runs in a Pod's environment as the example chart's waiter ServiceAccount", async () => {
    const hooks = exampleHookObjects().filter((o) =>
      ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind ?? ''),
    );
    expect(hooks).toHaveLength(3);
    for (const o of hooks) await apply(c, { ...o, metadata: { ...o.metadata, namespace: ns } });
    const sa = hooks.find((o) => o.kind === 'ServiceAccount')!.metadata!.name!;
    await createResource(c, baseResource('hooked', ns));
    // No DBM_NAMESPACE: the namespace comes from the ServiceAccount mount.
    const w = startWait('hooked', {}, await podEnvironment(sa));
    await waitFor('the first progress line', async () => w.output().includes('"generation"'), 30_000);
    await setStatus('hooked', (dm) => ({
      observedGeneration: dm.metadata.generation,
      phase: 'Succeeded',
      conditions: [cond('Ready', 'True', 'Succeeded', 'done', dm.metadata.generation)],
    }));
    expect(await exitWithin(w, 30_000)).toBe(0);
    expect(w.output()).toContain(`${ns}/hooked is Ready`);
  });

  it('fails fast when its ServiceAccount may not read the resource', async () => {
    await c.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'nobody' } } });
    await createResource(c, baseResource('forbidden', ns));
    const w = startWait('forbidden', {}, await podEnvironment('nobody'));
    expect(await exitWithin(w, 30_000)).toBe(1);
    expect(w.output()).toContain('HTTP 403');
  });
});
