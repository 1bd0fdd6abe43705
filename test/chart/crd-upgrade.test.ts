// `helm upgrade` from the previous chart version upgrades the CRD. The
// previous chart is the one committed just before the CRD moved from the
// chart's crds/ directory (installed once, never upgraded by Helm) to a
// template, with its CRD made one field older (no migrations.copyRoot, which
// came with the move), so the upgrade has a schema change to carry. It runs on a control plane of its own (own state directory and
// ports): the CRD is cluster-wide, and an older one on the shared local cluster
// would prune fields under every other test.
import { jest } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { CHART_DIR, REPO_ROOT, helmTools, run, type RunResult } from './tools.js';

jest.setTimeout(15 * 60_000);

const OLD_CRD_PATH = 'charts/database-migration-operator/crds/databasemigrations.dbmigrate.io.yaml';
const CRD = 'databasemigrations.dbmigrate.io';

async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  for (let i = 0; i < n; i++) {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    servers.push(srv);
  }
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

const git = (args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();

/** The CRD as it was before copyRoot: the field (in spec and in the frozen status copy) and its CEL rule gone. */
function withoutCopyRoot(node: unknown): unknown {
  if (Array.isArray(node))
    return node
      .filter(
        (n) => !(n && typeof n === 'object' && String((n as { rule?: unknown }).rule).includes('copyRoot')),
      )
      .map(withoutCopyRoot);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key]) => key !== 'copyRoot')
      .map(([key, v]) => [key, withoutCopyRoot(v)]),
  );
}

interface Crd {
  metadata: { annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    versions: {
      schema: {
        openAPIV3Schema: {
          properties: { spec: { properties: { migrations: { properties: Record<string, unknown> } } } };
        };
      };
    }[];
  };
}

describe('helm upgrade from the previous chart version', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'dbm-crd-upgrade-'));
  let env: NodeJS.ProcessEnv = {};
  let kubeconfig = '';
  const k = (args: string[], input?: string): RunResult =>
    run(helmTools().kubectl, ['--kubeconfig', kubeconfig, '--request-timeout=30s', ...args], input);
  const h = (args: string[]): RunResult =>
    run(helmTools().helm, ['--kubeconfig', kubeconfig, '--namespace', 'dbm-system', ...args]);
  const ok = (r: RunResult) =>
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const liveCrd = (): Crd => JSON.parse(k(['get', 'crd', CRD, '-o', 'json']).stdout) as Crd;
  const migrationsFields = (c: Crd) =>
    Object.keys(c.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.migrations.properties);
  let previous = '';

  beforeAll(async () => {
    helmTools();
    const [etcd, peer, api, kcm, sched] = await freePorts(5);
    env = {
      ...process.env,
      DBM_CLUSTER_STATE: path.join(work, 'cluster'),
      DBM_ETCD_PORT: String(etcd),
      DBM_ETCD_PEER_PORT: String(peer),
      DBM_APISERVER_PORT: String(api),
      DBM_KCM_PORT: String(kcm),
      DBM_SCHEDULER_PORT: String(sched),
    };
    kubeconfig = path.join(work, 'cluster', 'kubeconfig');
    const up = spawnSync('bash', ['test/cluster/up.sh'], { cwd: REPO_ROOT, env, encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`test/cluster/up.sh (own control plane) failed:\n${up.stderr}`);
    // The commit that removed the crds/ copy; its parent is the previous chart.
    const moved = git(['rev-list', '-1', 'HEAD', '--', OLD_CRD_PATH]);
    if (!moved) throw new Error(`no commit touches ${OLD_CRD_PATH}: is this a shallow clone?`);
    previous = path.join(work, 'previous');
    execFileSync('bash', [
      '-c',
      'mkdir -p "$2" && git -C "$3" archive "$1^" charts/database-migration-operator | tar -x -C "$2"',
      'sh',
      moved,
      previous,
      REPO_ROOT,
    ]);
    previous = path.join(previous, 'charts', 'database-migration-operator');
    const oldCrdFile = path.join(previous, 'crds', path.basename(OLD_CRD_PATH));
    writeFileSync(
      oldCrdFile,
      stringify(withoutCopyRoot(parse(readFileSync(oldCrdFile, 'utf8'))), { lineWidth: 0 }),
    );
  });

  afterAll(() => {
    spawnSync('bash', ['test/cluster/down.sh'], { cwd: REPO_ROOT, env, stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });

  it('upgrades the CRD, keeps it on uninstall, and new fields are stored', () => {
    ok(h(['install', 'dbm', previous, '--create-namespace']));
    const before = liveCrd();
    expect(migrationsFields(before)).not.toContain('copyRoot');
    expect(before.metadata.annotations?.['meta.helm.sh/release-name']).toBeUndefined();

    // crds/ left the CRD without Helm's ownership metadata: the one upgrade that
    // moves it into the release adopts it (README: Upgrading).
    const refused = h(['upgrade', 'dbm', CHART_DIR]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/invalid ownership metadata|take-ownership/);
    ok(h(['upgrade', 'dbm', CHART_DIR, '--take-ownership']));
    const after = liveCrd();
    expect(migrationsFields(after)).toContain('copyRoot');
    expect(after.metadata.annotations).toMatchObject({
      'helm.sh/resource-policy': 'keep',
      'meta.helm.sh/release-name': 'dbm',
    });
    expect(after.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');

    // From here on a plain upgrade upgrades it (no flag).
    ok(h(['upgrade', 'dbm', CHART_DIR]));

    // A field only the new schema has is stored, not pruned.
    ok(k(['create', 'namespace', 'apps']));
    const dm = {
      apiVersion: 'dbmigrate.io/v1alpha1',
      kind: 'DatabaseMigration',
      metadata: { name: 'shop', namespace: 'apps' },
      spec: {
        database: {
          host: 'pg',
          database: 'shop',
          user: 'app',
          passwordSecretRef: { name: 'db', key: 'password' },
        },
        migrations: { image: 'shop:1', path: '/app/dist/migrations', copyRoot: '/app/dist' },
        backup: { enabled: false },
      },
    };
    ok(k(['apply', '-f', '-'], JSON.stringify(dm)));
    const stored = JSON.parse(k(['-n', 'apps', 'get', 'dbm', 'shop', '-o', 'json']).stdout) as {
      spec: { migrations: { copyRoot?: string } };
    };
    expect(stored.spec.migrations.copyRoot).toBe('/app/dist');

    // crds.keep: uninstalling the release leaves the CRD and the resources.
    ok(h(['uninstall', 'dbm']));
    expect(k(['get', 'crd', CRD, '-o', 'name']).status).toBe(0);
    expect(k(['-n', 'apps', 'get', 'dbm', 'shop', '-o', 'name']).status).toBe(0);
  });
});
