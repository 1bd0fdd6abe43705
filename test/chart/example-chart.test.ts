// The example app chart (charts/examples/product-service): its
// pre-install/pre-upgrade hook applies a DatabaseMigration for the new app
// image and a waiter Job (`migrator wait`) that holds the release.
import { jest } from '@jest/globals';
import { join } from 'node:path';
import {
  KUBECONFIG,
  REPO_ROOT,
  clusterReachable,
  clusterTest,
  helm,
  helmTools,
  parseYamlDocs,
  run,
  type K8sObject,
} from './tools.js';

jest.setTimeout(180_000);

const EXAMPLE_DIR = join(REPO_ROOT, 'charts', 'examples', 'product-service');
const HOOK_EVENTS = 'pre-install,pre-upgrade';

type Container = {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  securityContext?: Record<string, unknown>;
};
type PodSpec = {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  restartPolicy?: string;
  securityContext?: Record<string, unknown>;
  containers: Container[];
};
type Job = K8sObject & {
  spec: { backoffLimit: number; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};
type Deployment = K8sObject & {
  spec: { selector: { matchLabels: Record<string, string> }; template: { spec: PodSpec } };
};
type DatabaseMigration = K8sObject & {
  spec: {
    database: Record<string, unknown>;
    migrations: { image: string; path: string; transactionMode: string };
    backup: { pvcName: string };
  };
};

function template(args: string[] = [], namespace = 'shop'): K8sObject[] {
  const r = helm(['template', 'shop', EXAMPLE_DIR, '--namespace', namespace, ...args]);
  if (r.status !== 0) throw new Error(`helm template failed (exit ${r.status}):\n${r.stderr}`);
  return parseYamlDocs(r.stdout);
}
const find = <T extends K8sObject = K8sObject>(objs: K8sObject[], kind: string): T[] =>
  objs.filter((o) => o.kind === kind) as T[];
const one = <T extends K8sObject = K8sObject>(objs: K8sObject[], kind: string): T => {
  const found = find<T>(objs, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0]!;
};
const hookOf = (o: K8sObject) => ({
  hook: o.metadata.annotations?.['helm.sh/hook'],
  weight: o.metadata.annotations?.['helm.sh/hook-weight'],
  deletePolicy: o.metadata.annotations?.['helm.sh/hook-delete-policy'],
});

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

beforeAll(() => {
  helmTools();
});

describe('example chart: helm lint --strict', () => {
  it('is clean', () => {
    const r = helm(['lint', '--strict', EXAMPLE_DIR]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('rejects values the schema does not allow', () => {
    const r = helm(['lint', '--strict', EXAMPLE_DIR, '--set', 'migration.transactionMode=sometimes']);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('transactionMode');
  });
});

describe('example chart: helm template', () => {
  const NEW_IMAGE = 'registry.example/product-service:2.0.0';
  let objs: K8sObject[];
  beforeAll(() => {
    objs = template([
      '--set',
      'image.repository=registry.example/product-service,image.tag=2.0.0',
      '--set',
      'database.host=pg.db.svc,database.name=shop,database.user=app,database.passwordSecret.name=shop-db',
      '--set',
      'migration.backup.pvcName=shop-backups,waiter.image.repository=registry.example/migrator,waiter.image.tag=9.9.9',
    ]);
  });

  it('renders the app as plain release objects and everything migration-related as hooks', () => {
    const hooks = objs.filter((o) => o.metadata.annotations?.['helm.sh/hook']);
    expect(hooks.map((o) => o.kind).sort()).toEqual(
      ['DatabaseMigration', 'Job', 'Role', 'RoleBinding', 'ServiceAccount'].sort(),
    );
    for (const o of ['Deployment', 'Service']) expect(hookOf(one(objs, o)).hook).toBeUndefined();
  });

  it('orders the hooks by weight: waiter RBAC (-10), DatabaseMigration (-5), waiter Job (0)', () => {
    const expected = {
      ServiceAccount: '-10',
      Role: '-10',
      RoleBinding: '-10',
      DatabaseMigration: '-5',
      Job: '0',
    } as const;
    for (const [kind, weight] of Object.entries(expected)) {
      expect(hookOf(one(objs, kind))).toEqual({
        hook: HOOK_EVENTS,
        weight,
        deletePolicy: 'before-hook-creation',
      });
    }
  });

  it('migrates with the NEW app image, the database of the values and no random name', () => {
    const dm = one<DatabaseMigration>(objs, 'DatabaseMigration');
    expect(dm.apiVersion).toBe('dbmigrate.io/v1alpha1');
    expect(dm.metadata.name).toBe('shop-product-service');
    expect(dm.spec.migrations).toEqual({
      image: NEW_IMAGE,
      path: '/app/dist/migrations',
      transactionMode: 'each',
    });
    expect(dm.spec.database).toEqual({
      host: 'pg.db.svc',
      port: 5432,
      database: 'shop',
      user: 'app',
      sslMode: 'require',
      passwordSecretRef: { name: 'shop-db', key: 'password' },
    });
    expect(dm.spec.backup.pvcName).toBe('shop-backups');
    // The same image the Deployment rolls out once the hook succeeds.
    const dep = one<Deployment>(objs, 'Deployment');
    expect(dep.spec.template.spec.containers[0]!.image).toBe(NEW_IMAGE);
    // Rendering twice gives the same name: an upgrade replaces the resource.
    expect(one(template(['--set', 'image.tag=3.0.0']), 'DatabaseMigration').metadata.name).toBe(
      dm.metadata.name,
    );
  });

  it('runs `migrator wait` on the DatabaseMigration in a Job that never retries', () => {
    const job = one<Job>(objs, 'Job');
    const pod = job.spec.template.spec;
    const c = pod.containers[0]!;
    expect(job.spec.backoffLimit).toBe(0);
    expect(pod.restartPolicy).toBe('Never');
    expect(c.image).toBe('registry.example/migrator:9.9.9');
    expect(c.args).toEqual(['wait']);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      DBM_NAME: 'shop-product-service',
      DBM_NAMESPACE: 'shop',
      WAIT_TIMEOUT_SECONDS: '1800',
    });
    expect(pod.serviceAccountName).toBe(one(objs, 'ServiceAccount').metadata.name);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toMatchObject(RESTRICTED);
  });

  it('lets the waiter read DatabaseMigrations and nothing else', () => {
    const role = one<K8sObject & { rules: unknown[] }>(objs, 'Role');
    expect(role.rules).toEqual([
      { apiGroups: ['dbmigrate.io'], resources: ['databasemigrations'], verbs: ['get', 'list', 'watch'] },
    ]);
    const binding = one<
      K8sObject & { roleRef: { name: string }; subjects: { name: string; namespace: string }[] }
    >(objs, 'RoleBinding');
    expect(binding.roleRef.name).toBe(role.metadata.name);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: one(objs, 'ServiceAccount').metadata.name, namespace: 'shop' },
    ]);
  });

  it("keeps the waiter Pod out of the app's Service and Deployment selectors", () => {
    const selector = one<Deployment>(objs, 'Deployment').spec.selector.matchLabels;
    const labels = one<Job>(objs, 'Job').spec.template.metadata.labels;
    expect(Object.entries(selector).every(([k, v]) => labels[k] === v)).toBe(false);
  });

  it('merges extraSpec and verification queries into the DatabaseMigration', () => {
    const dm = one<DatabaseMigration & { spec: Record<string, unknown> }>(
      template([
        '--set',
        'migration.extraSpec.timeouts.lockTimeoutSeconds=10,migration.verificationQueries[0]=SELECT true',
      ]),
      'DatabaseMigration',
    );
    expect(dm.spec.timeouts).toEqual({ lockTimeoutSeconds: 10 });
    expect(dm.spec.verification).toEqual({ queries: ['SELECT true'] });
  });
});

// Server-side dry run against the local control plane, when it runs and has the CRD.
const k = (args: string[], input?: string) =>
  run(helmTools().kubectl, ['--kubeconfig', KUBECONFIG, '--request-timeout=30s', ...args], input);
const cluster =
  clusterReachable() && k(['get', 'crd', 'databasemigrations.dbmigrate.io', '-o', 'name']).status === 0;
const clusterIt = clusterTest(cluster);

describe('example chart: server-side dry run on the local cluster', () => {
  const ns = `dbm-example-dryrun-${process.pid}`;
  beforeAll(() => {
    if (cluster) expect(k(['create', 'namespace', ns]).stderr).toBe('');
  });
  afterAll(() => {
    if (cluster) k(['delete', 'namespace', ns, '--wait=false']);
  });

  clusterIt('the API server accepts every object, the DatabaseMigration included', () => {
    const docs = template([], ns);
    const res = k(
      [
        'apply',
        '--dry-run=server',
        '--server-side',
        '--field-manager=chart-test',
        '-n',
        ns,
        '-o',
        'name',
        '-f',
        '-',
      ],
      docs.map((d) => JSON.stringify(d)).join('\n'),
    );
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
    expect(res.stdout.trim().split('\n')).toHaveLength(docs.length);
  });
});
