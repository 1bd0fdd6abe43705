// The Helm chart: lint, render, least-privilege RBAC, the Deployment's contract
// with the operator's config, the optional parts, and (when the local cluster
// is up) a server-side dry run of everything the API server knows.
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { renderChartCrdTemplate } from '../../crds/render.js';
import { loadConfig } from '../../operator/config.js';
import {
  ALL_TOGGLES_ON,
  CHART_CRD,
  CHART_DIR,
  DASHBOARD_FILE,
  KUBECONFIG,
  RULES_FILE,
  clusterReachable,
  clusterTest,
  ensureChartCrd,
  helm,
  helmTools,
  run,
  template,
} from './tools.js';
import type { K8sObject } from './tools.js';

jest.setTimeout(180_000);

type PolicyRule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] };
type Container = {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
};
type Deployment = K8sObject & {
  spec: {
    replicas: number;
    template: {
      spec: {
        serviceAccountName: string;
        securityContext?: Record<string, unknown>;
        containers: Container[];
      };
    };
  };
};

const byKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
const one = <T extends K8sObject = K8sObject>(objs: K8sObject[], kind: string): T => {
  const found = byKind(objs, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0] as T;
};
const rulesOf = (objs: K8sObject[]): PolicyRule[] =>
  objs
    .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
    .flatMap((o) => (o as unknown as { rules: PolicyRule[] }).rules);
const allows = (rules: PolicyRule[], group: string, resource: string, verb: string) =>
  rules.some(
    (r) =>
      (r.apiGroups ?? []).some((g) => g === group || g === '*') &&
      (r.resources ?? []).some((x) => x === resource || x === '*') &&
      r.verbs.some((v) => v === verb || v === '*'),
  );

beforeAll(() => {
  helmTools();
  ensureChartCrd();
});

describe('chart CRD', () => {
  it('is the one generated from the zod schema (run `npm run crds:generate` when this fails)', () => {
    expect(readFileSync(CHART_CRD, 'utf8')).toBe(renderChartCrdTemplate());
  });
});

describe('helm lint --strict', () => {
  const cases: [string, string[]][] = [
    ['default values', []],
    ['every optional part on', ALL_TOGGLES_ON],
    ['namespaced (watchNamespaces)', ['--set-json', 'watchNamespaces=["team-a","team-b"]']],
  ];
  it.each(cases)('passes with %s', (_, args) => {
    const r = helm(['lint', '--strict', CHART_DIR, ...args]);
    const out = r.stdout + r.stderr;
    expect({ status: r.status, out }).toEqual({
      status: 0,
      out: expect.not.stringMatching(/\[(WARNING|ERROR)\]/),
    });
  });

  it('rejects values the schema does not allow', () => {
    for (const bad of [
      ['--set', 'logLevel=loud'],
      ['--set', 'image.pullPolicy=Sometimes'],
      ['--set', 'notAValue=1'],
      ['--set', 'maxConcurrentReconciles=0'],
      ['--set', 'maxConcurrentReconciles=65'],
      ['--set-json', 'watchNamespaces=["Not_A_Namespace"]'],
    ]) {
      const r = helm(['template', 'x', CHART_DIR, ...bad]);
      expect({ bad, status: r.status }).toEqual({ bad, status: 1 });
      expect(r.stderr).toMatch(/values don't meet the specifications of the schema|schema/i);
    }
  });
});

describe('helm template (default values)', () => {
  let objs: K8sObject[];
  beforeAll(() => {
    objs = template();
  });

  it('renders the core objects and none of the optional ones', () => {
    expect(objs.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRole',
        // metrics.auth (on by default): the reviews the operator makes, bound to it, and the reader role.
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'Deployment',
        'NetworkPolicy',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'Service',
        'ServiceAccount',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ].sort(),
    );
    for (const o of objs) {
      expect(o.metadata.labels?.['app.kubernetes.io/name']).toBe('database-migration-operator');
      expect(o.metadata.labels?.['app.kubernetes.io/instance']).toBe('dbm');
      if (
        !o.kind.startsWith('Cluster') &&
        !o.kind.startsWith('Validating') &&
        o.kind !== 'CustomResourceDefinition'
      )
        expect(o.metadata.namespace).toBe('dbm-system');
    }
  });

  it('grants least privilege and no access to Secrets at all', () => {
    const rules = rulesOf(objs);
    for (const r of rules) {
      expect(r.resources ?? []).not.toContain('secrets');
      expect(r.resources ?? []).not.toContain('*');
      expect(r.apiGroups ?? []).not.toContain('*');
      expect(r.verbs).not.toContain('*');
      expect(r.verbs).not.toContain('escalate');
      expect(r.verbs).not.toContain('bind');
      expect(r.verbs).not.toContain('impersonate');
    }
    for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']) {
      expect(allows(rules, '', 'secrets', verb)).toBe(false);
    }
    // Namespaced by default: a Role in the release namespace, the only one watched.
    const cr = (
      objs.find((o) => o.kind === 'Role' && o.metadata.name === 'dbm-database-migration-operator') as
        (K8sObject & { rules: PolicyRule[] }) | undefined
    )?.rules;
    if (!cr) throw new Error('no operator Role');
    // The exact list is operator/rbac-needs.ts (test/chart/rbac-verbs.test.ts); the essentials here.
    const expected: [string, string, string[]][] = [
      ['dbmigrate.io', 'databasemigrations', ['list', 'watch', 'patch']],
      ['dbmigrate.io', 'databasemigrations/status', ['update']],
      ['dbmigrate.io', 'databasemigrations/finalizers', ['update']],
      ['batch', 'jobs', ['create', 'list', 'watch', 'delete']],
      ['', 'pods', ['list', 'watch']],
      ['', 'configmaps', ['get', 'create', 'update']],
      ['', 'pods/log', ['get']],
      ['', 'events', ['create', 'patch']],
      ['apps', 'deployments', ['get']],
      ['apps', 'statefulsets', ['get']],
      ['apps', 'deployments/scale', ['get', 'update']],
      ['apps', 'statefulsets/scale', ['get', 'update']],
    ];
    for (const [group, resource, verbs] of expected) {
      for (const verb of verbs)
        expect({ group, resource, verb, ok: allows(cr, group, resource, verb) }).toMatchObject({ ok: true });
    }
    // nothing beyond the list above
    const granted = cr.flatMap((r) =>
      (r.apiGroups ?? []).flatMap((g) =>
        (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)),
      ),
    );
    const wanted = expected.flatMap(([g, res, verbs]) => verbs.map((v) => `${g}/${res}:${v}`));
    expect(granted.filter((x) => !wanted.includes(x))).toEqual([]);
    expect(allows(cr, 'batch', 'jobs', 'update')).toBe(false);
    expect(allows(cr, 'apps', 'deployments', 'delete')).toBe(false);
    expect(allows(cr, 'apps', 'deployments', 'patch')).toBe(false);
    expect(allows(cr, '', 'configmaps', 'list')).toBe(false);

    // leader election: a Role in the release namespace, the Lease only
    const role = objs.find(
      (o) => o.kind === 'Role' && o.metadata.name.endsWith('-leader-election'),
    ) as K8sObject & {
      rules: PolicyRule[];
    };
    expect(role.metadata.namespace).toBe('dbm-system');
    expect(allows(role.rules, 'coordination.k8s.io', 'leases', 'create')).toBe(true);
    const named = role.rules.find((r) => r.resourceNames?.length);
    expect(named?.resourceNames).toEqual(['dbm-database-migration-operator-leader']);
    expect(named?.verbs.sort()).toEqual(['get', 'update']);
    expect(allows(role.rules, 'coordination.k8s.io', 'leases', 'delete')).toBe(false);

    // bindings point at the chart's ServiceAccount
    const sa = one(objs, 'ServiceAccount');
    for (const b of [...byKind(objs, 'ClusterRoleBinding'), ...byKind(objs, 'RoleBinding')]) {
      const subjects = (b as unknown as { subjects: { kind: string; name: string; namespace: string }[] })
        .subjects;
      expect(subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'dbm-system' }]);
    }
  });

  it('runs the operator with its configuration, probes, resources and a restricted security context', () => {
    const dep = one<Deployment>(objs, 'Deployment');
    const pod = dep.spec.template.spec;
    expect(pod.serviceAccountName).toBe(one(objs, 'ServiceAccount').metadata.name);
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0]!;
    expect(c.image).toBe('ghcr.io/dbmigrate/database-migration-operator:0.1.0');
    const env = Object.fromEntries(
      (c.env ?? []).map((e) => [e.name, e.value ?? `fieldRef:${e.valueFrom?.fieldRef?.fieldPath}`]),
    );
    expect(env).toEqual({
      WATCH_NAMESPACES: 'dbm-system',
      JOB_SERVICE_ACCOUNT: 'default',
      MAX_CONCURRENT_RECONCILES: '4',
      MIGRATOR_IMAGE: 'ghcr.io/dbmigrate/database-migration-migrator:0.1.0',
      MIGRATOR_IMAGE_PULL_POLICY: 'IfNotPresent',
      LEADER_ELECTION: 'true',
      LEASE_NAMESPACE: 'dbm-system',
      LEASE_NAME: 'dbm-database-migration-operator-leader',
      POD_NAME: 'fieldRef:metadata.name',
      POD_NAMESPACE: 'fieldRef:metadata.namespace',
      HTTP_PORT: '8080',
      METRICS_AUTH: 'true',
      LOG_LEVEL: 'info',
    });
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources?.limits).toMatchObject({ memory: expect.any(String) });
    // Pod Security Standards, "restricted" profile
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it("sets an environment the operator's loadConfig accepts", () => {
    const c = one<Deployment>(objs, 'Deployment').spec.template.spec.containers[0]!;
    const env: NodeJS.ProcessEnv = {};
    for (const e of c.env ?? []) {
      env[e.name] =
        e.value ?? (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name' ? 'dbm-abc-123' : 'dbm-system');
    }
    const config = loadConfig(env, { randomSuffix: () => 'x', hostname: () => 'h' });
    expect(config).toMatchObject({
      watchNamespaces: ['dbm-system'],
      jobServiceAccount: 'default',
      allowedServiceAccounts: [],
      maxConcurrentReconciles: 4,
      migratorImage: 'ghcr.io/dbmigrate/database-migration-migrator:0.1.0',
      leaderElection: true,
      leaseNamespace: 'dbm-system',
      leaseName: 'dbm-database-migration-operator-leader',
      identity: 'dbm-abc-123_x',
      httpPort: 8080,
      logLevel: 'info',
    });
    const namespaced = template(['--set-json', 'watchNamespaces=["team-a","team-b"]']);
    const c2 = one<Deployment>(namespaced, 'Deployment').spec.template.spec.containers[0]!;
    const env2 = Object.fromEntries(
      (c2.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
    );
    expect(loadConfig(env2).watchNamespaces).toEqual(['team-a', 'team-b']);
  });

  it('exposes the metrics on a Service port named http-metrics', () => {
    const svc = one(objs, 'Service') as K8sObject & {
      spec: { selector: Record<string, string>; ports: unknown[] };
    };
    expect(svc.spec.ports).toEqual([
      { name: 'http-metrics', port: 8080, targetPort: 'http', protocol: 'TCP' },
    ]);
    const dep = one<Deployment>(objs, 'Deployment') as Deployment & {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
  });

  it('prints NOTES', () => {
    const r = helm(['install', 'dbm', CHART_DIR, '--dry-run=client', '--namespace', 'dbm-system']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('kubectl get dbm -w');
    expect(r.stdout).toContain('Watching: dbm-system (watchNamespaces; a Role in each)');
    const all = helm([
      'install',
      'dbm',
      CHART_DIR,
      '--dry-run=client',
      '-n',
      'x',
      '--set',
      'rbac.clusterWide=true',
    ]);
    expect(all.stdout).toContain('Watching: all namespaces (rbac.clusterWide)');
  });
});

describe('helm template (optional parts on)', () => {
  let objs: K8sObject[];
  beforeAll(() => {
    objs = template([
      ...ALL_TOGGLES_ON,
      '--set-json',
      'metrics.serviceMonitor.labels={"release":"kube-prometheus-stack"}',
      '--set-json',
      'metrics.prometheusRule.additionalRuleLabels={"team":"platform"}',
      '--set',
      'grafana.dashboards.folder=Databases',
    ]);
  });

  it("renders a ServiceMonitor that scrapes the metrics port and keeps the metrics' namespace label", () => {
    const sm = one(objs, 'ServiceMonitor') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Record<string, unknown>[] };
    };
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(sm.spec.endpoints).toEqual([
      expect.objectContaining({ port: 'http-metrics', path: '/metrics', honorLabels: true }),
    ]);
    const svc = one(objs, 'Service');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels))
      expect(svc.metadata.labels?.[k]).toBe(v);
  });

  it('renders a PrometheusRule with exactly the rules of alerts/rules.yaml', () => {
    const pr = one(objs, 'PrometheusRule') as K8sObject & {
      spec: { groups: { name: string; rules: Record<string, unknown>[] }[] };
    };
    const file = parse(readFileSync(RULES_FILE, 'utf8')) as {
      groups: { name: string; rules: Record<string, unknown>[] }[];
    };
    expect(pr.spec.groups.map((g) => g.name)).toEqual(file.groups.map((g) => g.name));
    const rendered = pr.spec.groups.flatMap((g) => g.rules);
    const source = file.groups.flatMap((g) => g.rules);
    expect(rendered).toHaveLength(source.length);
    rendered.forEach((r, i) => {
      const s = source[i]!;
      expect(r.alert).toBe(s.alert);
      // With the default values only the job selector changes: to this release's Service and namespace.
      expect(r.expr).toBe(
        String(s.expr).replaceAll(
          'job=~".*database-migration-operator.*"',
          'job="dbm-database-migration-operator",namespace="dbm-system"',
        ),
      );
      expect(r.for).toBe(s.for);
      expect(r.labels).toEqual({ ...(s.labels as object), team: 'platform' });
      expect((r.annotations as Record<string, string>).runbook_url).toBe(
        `https://github.com/dbmigrate/database-migration-operator/blob/main/docs/runbook.md#${String(s.alert).toLowerCase()}`,
      );
    });
  });

  it('can leave alerts out and point runbooks elsewhere', () => {
    const objs2 = template([
      '--set',
      'metrics.prometheusRule.enabled=true,metrics.prometheusRule.runbookBaseURL=https://wiki.example/runbook',
      '--set-json',
      'metrics.prometheusRule.disabledAlerts=["DatabaseMigrationOperatorNoLeader"]',
    ]);
    const pr = one(objs2, 'PrometheusRule') as K8sObject & {
      spec: { groups: { rules: { alert: string; annotations: Record<string, string> }[] }[] };
    };
    const alerts = pr.spec.groups.flatMap((g) => g.rules);
    expect(alerts.map((a) => a.alert)).not.toContain('DatabaseMigrationOperatorNoLeader');
    expect(alerts.map((a) => a.alert)).toContain('DatabaseMigrationOperatorDown');
    expect(alerts[0]?.annotations.runbook_url).toBe('https://wiki.example/runbook#databasemigrationfailed');
  });

  it('renders the Grafana dashboard ConfigMap with the sidecar label and the dashboard file', () => {
    const cm = one(objs, 'ConfigMap') as K8sObject & { data: Record<string, string> };
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.annotations?.grafana_folder).toBe('Databases');
    expect(JSON.parse(cm.data['database-migrations.json']!)).toEqual(
      JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')),
    );
  });

  it('renders a PodDisruptionBudget matching the Deployment', () => {
    const pdb = one(objs, 'PodDisruptionBudget') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    const dep = one<Deployment>(objs, 'Deployment') as Deployment & {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    expect(dep.spec.replicas).toBe(2);
  });
});

describe('helm template (watchNamespaces)', () => {
  it('uses a Role per watched namespace instead of a ClusterRole', () => {
    const objs = template(['--set-json', 'watchNamespaces=["team-a","team-b"]']);
    // Only the roles aggregated into view/edit are cluster-wide; the operator's own are per namespace.
    // metrics.auth's reviews are cluster-scoped API calls: its ClusterRole stays (metrics-auth-rbac.yaml).
    expect(byKind(objs, 'ClusterRole').map((r) => r.metadata.name)).toEqual([
      'dbm-database-migration-operator-metrics-auth',
      'dbm-database-migration-operator-metrics-reader',
      'dbm-database-migration-operator-view',
      'dbm-database-migration-operator-edit',
    ]);
    expect(byKind(objs, 'ClusterRoleBinding').map((r) => r.metadata.name)).toEqual([
      'dbm-database-migration-operator-metrics-auth',
    ]);
    const roles = byKind(objs, 'Role')
      .map((r) => r.metadata.namespace)
      .sort();
    expect(roles).toEqual(['dbm-system', 'team-a', 'team-b']);
    expect(
      byKind(objs, 'RoleBinding')
        .map((r) => r.metadata.namespace)
        .sort(),
    ).toEqual(['dbm-system', 'team-a', 'team-b']);
    for (const r of rulesOf(objs)) expect(r.resources ?? []).not.toContain('secrets');
    expect(
      byKind(
        template([
          '--set-json',
          'watchNamespaces=["a"]',
          '--set',
          'rbac.aggregateToDefaultRoles=false,metrics.auth=false',
        ]),
        'ClusterRole',
      ),
    ).toEqual([]);
    const dep = one<Deployment>(objs, 'Deployment');
    const env = dep.spec.template.spec.containers[0]!.env!;
    expect(env.find((e) => e.name === 'WATCH_NAMESPACES')?.value).toBe('team-a,team-b');
  });
});

// Server-side dry run against the local control plane (bash test/cluster/up.sh).
const cluster = clusterReachable();
const clusterIt = clusterTest(cluster);

describe('server-side dry run on the local cluster', () => {
  const ns = `dbm-chart-dryrun-${process.pid}`;
  const k = (args: string[], input?: string) =>
    run(helmTools().kubectl, ['--kubeconfig', KUBECONFIG, '--request-timeout=30s', ...args], input);
  const dryRun = (docs: K8sObject[]) =>
    k(
      [
        'apply',
        '--dry-run=server',
        '--server-side',
        '--force-conflicts',
        '--field-manager=chart-test',
        '-o',
        'name',
        '-f',
        '-',
      ],
      docs.map((d) => JSON.stringify(d)).join('\n'),
    );
  const hasCrd = (name: string) => k(['get', 'crd', name, '-o', 'name']).status === 0;

  beforeAll(() => {
    // Namespaced objects need their namespace to exist, even in a dry run.
    if (cluster) expect(k(['create', 'namespace', ns]).stderr).toBe('');
  });
  afterAll(() => {
    if (cluster) k(['delete', 'namespace', ns, '--wait=false']);
  });

  clusterIt('the API server accepts the generated CRD', () => {
    const docs = template().filter((d) => d.kind === 'CustomResourceDefinition');
    expect(docs.map((d) => d.kind)).toEqual(['CustomResourceDefinition']);
    const res = dryRun(docs);
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
  });

  clusterIt('the API server accepts every object of the chart', () => {
    const docs = template(
      [
        '--set',
        'grafana.dashboards.enabled=true,podDisruptionBudget.enabled=true,metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true',
      ],
      'dbm',
      ns,
    ).filter(
      // prometheus-operator's CRDs are not on the local cluster; their objects are checked when they are.
      (d) =>
        (d.kind !== 'ServiceMonitor' || hasCrd('servicemonitors.monitoring.coreos.com')) &&
        (d.kind !== 'PrometheusRule' || hasCrd('prometheusrules.monitoring.coreos.com')),
    );
    expect(docs.length).toBeGreaterThanOrEqual(9);
    const res = dryRun(docs);
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
    expect(res.stdout.trim().split('\n')).toHaveLength(docs.length);
  });
});

describe('CRD and aggregated roles', () => {
  const crdOf = (args: string[]) => template(args).filter((o) => o.kind === 'CustomResourceDefinition');

  it('renders the CRD as a template, kept on uninstall by default', () => {
    const [crd] = crdOf([]);
    expect(crd?.metadata.name).toBe('databasemigrations.dbmigrate.io');
    expect(crd?.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    expect(crdOf(['--set', 'crds.keep=false'])[0]?.metadata.annotations).toBeUndefined();
    expect(crdOf(['--set', 'crds.enabled=false'])).toEqual([]);
  });

  it('lets namespace users read (view) and manage (edit) DatabaseMigrations, never write their status', () => {
    const roles = byKind(template(['--set', 'fullnameOverride=mig']), 'ClusterRole') as (K8sObject & {
      rules: PolicyRule[];
    })[];
    const view = roles.find((r) => r.metadata.name === 'mig-view');
    const edit = roles.find((r) => r.metadata.name === 'mig-edit');
    expect(view?.metadata.labels).toMatchObject({
      'rbac.authorization.k8s.io/aggregate-to-view': 'true',
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
    });
    expect(edit?.metadata.labels).toMatchObject({
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
    });
    expect(edit?.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view']).toBeUndefined();
    for (const v of ['get', 'list', 'watch'])
      expect(allows(view!.rules, 'dbmigrate.io', 'databasemigrations', v)).toBe(true);
    expect(allows(view!.rules, 'dbmigrate.io', 'databasemigrations', 'create')).toBe(false);
    for (const v of ['create', 'update', 'patch', 'delete'])
      expect(allows(edit!.rules, 'dbmigrate.io', 'databasemigrations', v)).toBe(true);
    for (const v of ['update', 'patch'])
      expect(allows([...view!.rules, ...edit!.rules], 'dbmigrate.io', 'databasemigrations/status', v)).toBe(
        false,
      );
    expect(
      byKind(template(['--set', 'rbac.aggregateToDefaultRoles=false,metrics.auth=false']), 'ClusterRole'),
    ).toHaveLength(0);
  });
});

describe('values.schema.json', () => {
  it('describes every value', () => {
    type Node = { description?: string; properties?: Record<string, Node> };
    const schema = JSON.parse(readFileSync(`${CHART_DIR}/values.schema.json`, 'utf8')) as Node;
    const missing: string[] = [];
    const walk = (n: Node, path: string) => {
      for (const [k, v] of Object.entries(n.properties ?? {})) {
        if (!v.description?.trim()) missing.push(`${path}${k}`);
        walk(v, `${path}${k}.`);
      }
    };
    walk(schema, '');
    expect(missing).toEqual([]);
  });
});
