// The example app chart (charts/examples/product-service) with the real Helm 4
// binary on the real node: its pre-install/pre-upgrade hook applies a
// DatabaseMigration for the new app image and a waiter Job (`migrator wait`)
// holds the release until the resource is Ready.
//   install v1                  -> release deployed, Deployment runs v1
//   upgrade to v2 (migrations ok) -> release deployed after the resource is Ready,
//                                  Deployment runs v2
//   upgrade to v3 (a migration fails) -> helm fails, the resource is Failed with
//                                  Stalled=True, the Deployment still runs v2
// v2 and v3 are app images built FROM the example image of test/e2e/up.sh with
// one more migration each (images/lib.sh's buildah, imported into the node).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { apply, env, kubectl, loadEnv, password, root, withDb } from './env.js';

/** The real Helm 4 binary of scripts/tools.sh. */
function helmBinary(): string {
  return execFileSync('bash', ['-c', 'source scripts/tools.sh >/dev/null && printf %s "$HELM"'], {
    cwd: root,
    encoding: 'utf8',
  });
}
let HELM = '';
interface Run {
  status: number | null;
  out: string;
}
function helm(args: string[]): Run {
  const r = spawnSync(HELM, args, { cwd: root, encoding: 'utf8', env: process.env, timeout: 900_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

// ---- app image variants -----------------------------------------------------------

/** v2: one more migration, which succeeds. */
const GOOD_MIGRATION = {
  file: '1709300000000-AddProductDescription.js',
  name: 'AddProductDescription1709300000000',
  source: [
    '/** Schema: an optional description per product (nullable, no default: no rewrite). */',
    'export class AddProductDescription1709300000000 {',
    "    name = 'AddProductDescription1709300000000';",
    '    async up(queryRunner) {',
    "        await queryRunner.query('ALTER TABLE products ADD COLUMN description text');",
    '    }',
    '    async down(queryRunner) {',
    "        await queryRunner.query('ALTER TABLE products DROP COLUMN description');",
    '    }',
    '}',
    '',
  ].join('\n'),
};
/** v3: v2 plus a migration PostgreSQL rejects. */
const BAD_MIGRATION = {
  file: '1709400000000-AlterMissingTable.js',
  name: 'AlterMissingTable1709400000000',
  source: [
    'export class AlterMissingTable1709400000000 {',
    "    name = 'AlterMissingTable1709400000000';",
    '    async up(queryRunner) {',
    "        await queryRunner.query('ALTER TABLE no_such_table ADD COLUMN note text');",
    '    }',
    '    async down(queryRunner) {',
    "        await queryRunner.query('ALTER TABLE no_such_table DROP COLUMN note');",
    '    }',
    '}',
    '',
  ].join('\n'),
};

/**
 * Builds `<example repo>:<tag>` FROM the example image with extra migration files
 * in /app/dist/migrations, and makes it available to the cluster's node.
 */
function buildVariant(tag: string, files: { file: string; source: string }[]): string {
  const base = env('DBM_EXAMPLE_IMAGE');
  const ref = `${base.slice(0, base.lastIndexOf(':'))}:${tag}`;
  // Outside the repository: jest's haste map scans it.
  const ctx = mkdtempSync(path.join(os.tmpdir(), 'dbm-helm-hook-'));
  try {
    mkdirSync(path.join(ctx, 'migrations'));
    for (const f of files) writeFileSync(path.join(ctx, 'migrations', f.file), f.source);
    writeFileSync(
      path.join(ctx, 'Dockerfile'),
      ['ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}', 'COPY migrations/ /app/dist/migrations/', ''].join('\n'),
    );
    const script = [
      'set -euo pipefail',
      'source images/lib.sh',
      'bah bud --quiet --pull=never --layers --build-arg "BASE_IMAGE=$BASE" -f "$CTX/Dockerfile" -t "$REF" "$CTX" >/dev/null',
      'if [[ "${DBM_E2E_CLUSTER:-local}" == kind ]]; then',
      '  bah push --quiet "$REF" "docker-archive:$CTX/image.tar:$REF" >/dev/null',
      '  kind load image-archive "$CTX/image.tar" --name "${DBM_KIND_NAME:-dbm}"',
      'else',
      '  import_image "$REF"',
      'fi',
    ].join('\n');
    const r = spawnSync('bash', ['-c', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, BASE: base, REF: ref, CTX: ctx },
    });
    if (r.status !== 0) throw new Error(`building ${ref} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return ref;
}

// ---- the release --------------------------------------------------------------------

const NS = process.env.DBM_E2E_NAMESPACE ?? 'dbm-e2e';
const RELEASE = 'e2e-shop';
const FULLNAME = `${RELEASE}-product-service`; // the Deployment and the DatabaseMigration
const WAITER = `${FULLNAME}-migration-wait`;
const DB = 'e2e_helm_shop';
const SECRET = 'helm-shop-db';
const PVC = 'helm-shop-backups';
const PV = `${NS}-helm-shop-backups`;
const CHART = path.join(root, 'charts/examples/product-service');
const HELM_TIMEOUT = '5m';
let valuesDir = '';

function splitRef(ref: string): { repository: string; tag: string } {
  const i = ref.lastIndexOf(':');
  return { repository: ref.slice(0, i), tag: ref.slice(i + 1) };
}

/** The values of the release for one app image (JSON is YAML). */
function valuesFile(appImage: string): string {
  const values = {
    image: { ...splitRef(appImage), pullPolicy: 'IfNotPresent' },
    database: {
      host: env('DBM_PG_HOST'),
      port: Number(env('DBM_PG_PORT')),
      name: DB,
      user: env('DBM_PG_USER'),
      sslMode: 'disable',
      passwordSecret: { name: SECRET, key: 'password' },
    },
    migration: {
      backup: { enabled: true, pvcName: PVC },
      extraSpec: {
        timeouts: { lockTimeoutSeconds: 10, statementTimeoutSeconds: 0, advisoryLockWaitSeconds: 120 },
        jobTemplate: { activeDeadlineSeconds: 240, runAsUser: 10001 },
      },
    },
    waiter: {
      image: { ...splitRef(env('DBM_MIGRATOR_IMAGE')), pullPolicy: 'IfNotPresent' },
      // Below helm's --timeout, so the waiter's own verdict is what fails the hook.
      timeoutSeconds: 270,
    },
  };
  const f = path.join(valuesDir, `values-${splitRef(appImage).tag}.json`);
  writeFileSync(f, JSON.stringify(values, null, 2));
  return f;
}

function helmUpgrade(appImage: string, install: boolean): Run {
  return helm([
    install ? 'install' : 'upgrade',
    RELEASE,
    CHART,
    '--namespace',
    NS,
    '-f',
    valuesFile(appImage),
    '--wait=watcher',
    '--timeout',
    HELM_TIMEOUT,
  ]);
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}
interface Dbm {
  metadata: { uid: string; generation: number };
  spec: { migrations: { image?: string } };
  status?: {
    phase?: string;
    observedGeneration?: number;
    conditions?: Condition[];
    applied?: { name: string }[];
    lastError?: { step: string; message: string; code?: string; migration?: string };
  };
}
const getDbm = (): Dbm =>
  JSON.parse(kubectl(['-n', NS, 'get', 'databasemigration', FULLNAME, '-o', 'json'])) as Dbm;
const condition = (dm: Dbm, type: string): Condition | undefined =>
  dm.status?.conditions?.find((c) => c.type === type);

/** The Deployment's image, and the images its Pods actually run. */
function deploymentImages(): { spec: string; pods: string[] } {
  const d = JSON.parse(kubectl(['-n', NS, 'get', 'deployment', FULLNAME, '-o', 'json'])) as {
    spec: { template: { spec: { containers: { image: string }[] } } };
  };
  const pods = JSON.parse(
    kubectl([
      '-n',
      NS,
      'get',
      'pods',
      '-l',
      `app.kubernetes.io/name=product-service,app.kubernetes.io/instance=${RELEASE}`,
      '--field-selector=status.phase=Running',
      '-o',
      'json',
    ]),
  ) as { items: { metadata: { deletionTimestamp?: string }; spec: { containers: { image: string }[] } }[] };
  return {
    spec: d.spec.template.spec.containers[0]!.image,
    pods: [
      ...new Set(
        pods.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.containers[0]!.image),
      ),
    ],
  };
}

function releaseStatus(): string {
  const r = helm(['status', RELEASE, '-n', NS, '-o', 'json']);
  if (r.status !== 0) throw new Error(`helm status failed: ${r.out}`);
  return (JSON.parse(r.out) as { info: { status: string } }).info.status;
}

const waiterLogs = (): string => {
  try {
    return kubectl(['-n', NS, 'logs', `job/${WAITER}`, '--tail=200']);
  } catch (err) {
    return `(no waiter logs: ${(err as Error).message})`;
  }
};

/** helm's output, the resource's status and the waiter's log: what a failure report needs. */
const explain = (r: Run): string =>
  [
    `helm exit ${r.status}:\n${r.out}`,
    `DatabaseMigration: ${(() => {
      try {
        return JSON.stringify(getDbm().status, null, 1);
      } catch (e) {
        return (e as Error).message;
      }
    })()}`,
    `waiter log:\n${waiterLogs()}`,
  ].join('\n---\n');

function deleteReleaseObjects(): void {
  helm(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '120s']);
  // Hook objects are not part of the release: uninstall leaves them.
  kubectl([
    '-n',
    NS,
    'delete',
    'databasemigrations,jobs,serviceaccounts,roles,rolebindings',
    '-l',
    `app.kubernetes.io/instance=${RELEASE}`,
    '--ignore-not-found',
    '--wait=true',
    '--timeout=120s',
  ]);
  kubectl(['-n', NS, 'delete', 'pvc', PVC, '--ignore-not-found', '--wait=true', '--timeout=60s']);
  kubectl(['delete', 'pv', PV, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

let V1 = '';
let V2 = '';
let V3 = '';

beforeAll(async () => {
  loadEnv();
  HELM = helmBinary();
  valuesDir = mkdtempSync(path.join(os.tmpdir(), 'dbm-helm-hook-values-'));
  // v1 is the example image itself; v2 and v3 carry one more migration each.
  V1 = env('DBM_EXAMPLE_IMAGE');
  const baseTag = splitRef(V1).tag;
  V2 = buildVariant(`${baseTag}-hook-good`, [GOOD_MIGRATION]);
  V3 = buildVariant(`${baseTag}-hook-bad`, [GOOD_MIGRATION, BAD_MIGRATION]);

  // Leftovers of an interrupted run.
  deleteReleaseObjects();

  await withDb('postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${DB}"`);
  });
  apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: SECRET, namespace: NS },
    stringData: { password: password() },
  });
  const hostDir = `${env('DBM_E2E_BACKUP_ROOT')}/${NS}-helm-shop`;
  if (process.env.DBM_E2E_CLUSTER === 'local') {
    rmSync(hostDir, { recursive: true, force: true });
    mkdirSync(hostDir, { recursive: true });
    chmodSync(hostDir, 0o1777);
  }
  apply({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: PV },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: 'e2e-local',
      claimRef: { namespace: NS, name: PVC },
      hostPath: { path: hostDir, type: 'DirectoryOrCreate' },
    },
  });
  apply({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: PVC, namespace: NS },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'e2e-local',
      resources: { requests: { storage: '1Gi' } },
    },
  });
}, 1_800_000);

afterAll(async () => {
  if (process.env.DBM_E2E_KEEP === '1') return;
  try {
    if (HELM) deleteReleaseObjects();
    kubectl(['-n', NS, 'delete', 'secret', SECRET, '--ignore-not-found']);
  } catch {
    /* best effort */
  }
  await withDb('postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`)).catch(
    () => undefined,
  );
  if (valuesDir) rmSync(valuesDir, { recursive: true, force: true });
}, 300_000);

const appliedInDb = (): Promise<string[]> =>
  withDb(
    DB,
    async (c) => (await c.query<{ name: string }>('SELECT name FROM migrations ORDER BY id')).rows,
  ).then((rows) => rows.map((r) => r.name));
const FIRST_FOUR = [
  'CreateCatalog1709000000000',
  'AddProductAttributes1709123456789',
  'SeedProductCategories1709123456790',
  'SeedStarterProducts1709200000000',
];

describe('the example app chart with the real Helm 4 binary', () => {
  test('the operator itself was installed with Helm', () => {
    const r = helm(['status', env('DBM_E2E_RELEASE'), '-n', env('DBM_E2E_OPERATOR_NAMESPACE'), '-o', 'json']);
    expect(r.status).toBe(0);
    expect((JSON.parse(r.out) as { info: { status: string } }).info.status).toBe('deployed');
  });

  test('helm install: the pre-install hook migrates, then the app v1 is deployed', async () => {
    const r = helmUpgrade(V1, true);
    if (r.status !== 0) throw new Error(`helm install failed\n${explain(r)}`);
    expect(releaseStatus()).toBe('deployed');

    const dm = getDbm();
    expect(dm.spec.migrations.image).toBe(V1);
    expect(dm.status?.observedGeneration).toBe(dm.metadata.generation);
    expect(dm.status?.phase).toBe('Succeeded');
    expect(condition(dm, 'Ready')?.status).toBe('True');
    expect(dm.status?.applied?.map((a) => a.name)).toEqual(FIRST_FOUR);
    expect(waiterLogs()).toContain('is Ready');

    expect(deploymentImages()).toEqual({ spec: V1, pods: [V1] });
    expect(await appliedInDb()).toEqual(FIRST_FOUR);
  }, 600_000);

  test('helm upgrade to an image whose migrations succeed: the release succeeds after the resource is Ready', async () => {
    const before = getDbm().metadata.uid;
    const r = helmUpgrade(V2, false);
    if (r.status !== 0) throw new Error(`helm upgrade to v2 failed\n${explain(r)}`);
    expect(releaseStatus()).toBe('deployed');

    const dm = getDbm();
    // A fresh resource (before-hook-creation), for the new image, Ready.
    expect(dm.metadata.uid).not.toBe(before);
    expect(dm.spec.migrations.image).toBe(V2);
    expect(dm.status?.phase).toBe('Succeeded');
    expect(condition(dm, 'Ready')?.status).toBe('True');
    expect(condition(dm, 'Stalled')?.status).not.toBe('True');
    expect(dm.status?.applied?.map((a) => a.name)).toEqual([GOOD_MIGRATION.name]);
    expect(waiterLogs()).toContain('is Ready');

    expect(deploymentImages()).toEqual({ spec: V2, pods: [V2] });
    expect(await appliedInDb()).toEqual([...FIRST_FOUR, GOOD_MIGRATION.name]);
    await withDb(DB, async (c) => {
      const col = await c.query(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'description'",
      );
      expect(col.rowCount).toBe(1);
    });
  }, 600_000);

  test('helm upgrade to an image whose migrations fail: the upgrade fails and the old app keeps running', async () => {
    const revisionsBefore = JSON.parse(helm(['history', RELEASE, '-n', NS, '-o', 'json']).out) as {
      revision: number;
    }[];
    const t0 = Date.now();
    const r = helmUpgrade(V3, false);
    const took = Date.now() - t0;
    if (r.status === 0) throw new Error(`helm upgrade to v3 succeeded but must fail\n${explain(r)}`);
    expect(r.status).not.toBeNull(); // exited on its own, not killed
    // The hook failed (the waiter Job), not a timeout of helm itself.
    expect(r.out).toMatch(/pre-upgrade hooks failed/i);
    expect(r.out).not.toMatch(/context deadline exceeded|timed out waiting/i);
    expect(took).toBeLessThan(270_000);

    const dm = getDbm();
    expect(dm.spec.migrations.image).toBe(V3);
    expect(dm.status?.observedGeneration).toBe(dm.metadata.generation);
    // The check's rehearsal ran the migration on a private copy first: Blocked, production untouched.
    expect(dm.status?.phase).toBe('Blocked');
    expect(condition(dm, 'Stalled')?.status).toBe('True');
    expect(condition(dm, 'Ready')?.status).not.toBe('True');
    const stalled = condition(dm, 'Stalled')?.message ?? '';
    expect(stalled).toContain('relation "no_such_table" does not exist');
    expect(stalled).toContain('42P01');
    // The waiter said why.
    const logs = waiterLogs();
    expect(logs).toMatch(/Blocked|failed/);
    expect(logs).toContain('no_such_table');

    // The release is marked failed, and the app was never touched: still v2.
    expect(releaseStatus()).toBe('failed');
    const history = JSON.parse(helm(['history', RELEASE, '-n', NS, '-o', 'json']).out) as {
      revision: number;
      status: string;
    }[];
    expect(history).toHaveLength(revisionsBefore.length + 1);
    expect(history.at(-1)?.status).toBe('failed');
    expect(deploymentImages()).toEqual({ spec: V2, pods: [V2] });
    // Nothing of v3 reached the database.
    expect(await appliedInDb()).toEqual([...FIRST_FOUR, GOOD_MIGRATION.name]);
  }, 600_000);
});
