// Migrations from an app image with no shell: a FROM scratch image
// (test/fixtures/distroless-app) whose migration imports a sibling module. The
// Job stages the migrator image's static copier in an emptyDir and runs it in
// the app image, copying the whole dist (spec.migrations.copyRoot), so the
// import resolves; the migration then runs for real against PostgreSQL.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apply, env, kubectl, loadEnv, password, root, withDb } from './env.js';

const NS = process.env.DBM_E2E_NAMESPACE ?? 'dbm-e2e';
const NAME = 'gadgets';
const DB = 'e2e_distroless';
let image = '';

const sh = (script: string, args: string[] = []): string => {
  const r = spawnSync('bash', ['-c', script, 'sh', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 900_000,
  });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status ?? r.signal}):\n${r.stderr}`);
  return r.stdout;
};

interface Dbm {
  spec?: { migrations?: { copyRoot?: string } };
  status?: {
    phase?: string;
    applied?: { name: string }[];
    lastError?: unknown;
    conditions?: { type: string; status: string }[];
  };
}

async function waitForPhase(phases: string[], timeoutMs = 300_000): Promise<Dbm> {
  const deadline = Date.now() + timeoutMs;
  let last: Dbm = {};
  while (Date.now() < deadline) {
    last = JSON.parse(kubectl(['-n', NS, 'get', 'databasemigration', NAME, '-o', 'json'])) as Dbm;
    if (last.status?.phase && phases.includes(last.status.phase)) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(
    `${NS}/${NAME} did not reach ${phases.join('|')}; last status: ${JSON.stringify(last.status)}`,
  );
}

beforeAll(() => {
  loadEnv();
  sh('bash images/build.sh distroless >&2');
  const envFile = readFileSync(join(root, '.tmp/images/images.env'), 'utf8');
  image = /^DBM_DISTROLESS_IMAGE=(.+)$/m.exec(envFile)?.[1] ?? '';
  if (!image) throw new Error('images/build.sh wrote no DBM_DISTROLESS_IMAGE');
  // This checkout's CRD: an older one on a shared cluster would prune copyRoot.
  const crd = join(root, 'crds/generated/databasemigrations.dbmigrate.io.yaml');
  kubectl(['apply', '--server-side', '--force-conflicts', '-f', crd]);
  kubectl(['-n', NS, 'delete', 'databasemigration', NAME, '--ignore-not-found', '--wait=true']);
  apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace: NS },
    stringData: { password: password() },
  });
}, 1_800_000);

afterAll(async () => {
  if (process.env.DBM_E2E_KEEP === '1') return;
  try {
    kubectl(['-n', NS, 'delete', 'databasemigration', NAME, '--ignore-not-found', '--wait=false']);
  } catch {
    /* best effort */
  }
  await withDb('postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`)).catch(
    () => undefined,
  );
});

test('the app image has no shell: it is FROM scratch with only the compiled app', () => {
  const ctr = sh('buildah --storage-driver "${DBM_BUILDAH_DRIVER:-overlay}" from --pull=never "$1"', [
    image,
  ]).trim();
  try {
    const mnt = sh('buildah --storage-driver "${DBM_BUILDAH_DRIVER:-overlay}" mount "$1"', [ctr]).trim();
    expect(existsSync(join(mnt, 'bin/sh'))).toBe(false);
    expect(existsSync(join(mnt, 'bin'))).toBe(false);
    expect(existsSync(join(mnt, 'app/dist/db/schema.js'))).toBe(true);
  } finally {
    sh('buildah --storage-driver "${DBM_BUILDAH_DRIVER:-overlay}" rm "$1" >/dev/null', [ctr]);
  }
});

test('a migration importing a sibling module migrates from the shell-less image', async () => {
  await withDb('postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${DB}"`);
  });
  apply({
    apiVersion: 'dbmigrate.io/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name: NAME, namespace: NS },
    spec: {
      database: {
        host: env('DBM_PG_HOST'),
        port: Number(env('DBM_PG_PORT')),
        database: DB,
        user: env('DBM_PG_USER'),
        sslMode: 'disable',
        passwordSecretRef: { name: 'db', key: 'password' },
      },
      migrations: { image, path: '/app/dist/db/migrations', copyRoot: '/app/dist' },
      backup: { enabled: false },
      jobTemplate: { activeDeadlineSeconds: 300, runAsUser: 10001 },
    },
  });

  const dm = await waitForPhase(['Succeeded', 'Failed', 'Blocked']);
  expect(dm.spec?.migrations?.copyRoot).toBe('/app/dist'); // not pruned by an older CRD
  expect({ phase: dm.status?.phase, lastError: dm.status?.lastError }).toEqual({
    phase: 'Succeeded',
    lastError: undefined,
  });
  expect(dm.status?.applied?.map((a) => a.name)).toEqual(['CreateGadgets1733000000000']);

  // The copy ran in the app image, with the staged copier as its command.
  const pods = JSON.parse(
    kubectl(['-n', NS, 'get', 'pods', '-l', `dbmigrate.io/name=${NAME}`, '-o', 'json']),
  ) as {
    items: {
      spec: { initContainers?: { name: string; image: string; command?: string[] }[] };
      status: { initContainerStatuses?: { name: string; state?: { terminated?: { exitCode: number } } }[] };
    }[];
  };
  expect(pods.items.length).toBeGreaterThan(0);
  for (const pod of pods.items) {
    const copy = pod.spec.initContainers?.find((c) => c.name === 'copy-migrations');
    expect(copy?.image).toBe(image);
    expect(copy?.command?.[0]).toBe('/dbm-copier/busybox');
    const st = pod.status.initContainerStatuses?.find((s) => s.name === 'copy-migrations');
    expect(st?.state?.terminated?.exitCode).toBe(0);
  }

  await withDb(DB, async (c) => {
    const rows = await c.query<{ name: string }>('SELECT name FROM gadgets');
    expect(rows.rows).toEqual([{ name: 'from-a-sibling-module' }]);
  });
}, 600_000);
