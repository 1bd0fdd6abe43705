// What the chart does so that creating a DatabaseMigration grants no more than it
// should (docs/security.md): the watched namespaces, the Job Pods' service account,
// the admission policy and the Job Pods' NetworkPolicy.
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../operator/config.js';
import { helm, CHART_DIR, template, type K8sObject } from './tools.js';

type Env = { name: string; value?: string };
type Deployment = K8sObject & { spec: { template: { spec: { containers: { env?: Env[] }[] } } } };
const envOf = (objs: K8sObject[]) => {
  const dep = objs.find((o) => o.kind === 'Deployment') as Deployment;
  return Object.fromEntries(
    (dep.spec.template.spec.containers[0]!.env ?? [])
      .filter((e) => e.value !== undefined)
      .map((e) => [e.name, e.value!]),
  );
};
type Peer = { ipBlock?: { cidr: string }; namespaceSelector?: unknown; podSelector?: unknown };
type Egress = { ports: { protocol: string; port: number }[]; to?: Peer[] };
type Policy = K8sObject & {
  spec: {
    podSelector: { matchLabels: Record<string, string>; matchExpressions: unknown[] };
    policyTypes: string[];
    egress: Egress[];
  };
};
const policies = (objs: K8sObject[]) => objs.filter((o) => o.kind === 'NetworkPolicy') as Policy[];

describe('watched namespaces', () => {
  it('the release namespace by default, watchNamespaces when set, every namespace with rbac.clusterWide', () => {
    const env = (args: string[] = []) =>
      loadConfig({ ...envOf(template(args)), MIGRATOR_IMAGE: 'm:1' }).watchNamespaces;
    expect(env()).toEqual(['dbm-system']);
    expect(env(['--set-json', 'watchNamespaces=["a","b"]'])).toEqual(['a', 'b']);
    expect(env(['--set', 'rbac.clusterWide=true'])).toEqual([]);
  });

  it('refuses rbac.clusterWide together with watchNamespaces', () => {
    const r = helm([
      'template',
      'dbm',
      CHART_DIR,
      '--set',
      'rbac.clusterWide=true',
      '--set-json',
      'watchNamespaces=["a"]',
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('rbac.clusterWide');
  });
});

describe('the Job Pods’ service account', () => {
  it('is the install’s (jobs.serviceAccountName), others only from jobs.allowedServiceAccounts', () => {
    expect(envOf(template())).toMatchObject({ JOB_SERVICE_ACCOUNT: 'default' });
    expect(envOf(template()).JOB_ALLOWED_SERVICE_ACCOUNTS).toBeUndefined();
    const env = envOf(
      template([
        '--set',
        'jobs.serviceAccountName=dbm-jobs',
        '--set-json',
        'jobs.allowedServiceAccounts=["irsa","wi"]',
      ]),
    );
    const config = loadConfig({ ...env, MIGRATOR_IMAGE: 'm:1' });
    expect(config.jobServiceAccount).toBe('dbm-jobs');
    expect(config.allowedServiceAccounts).toEqual(['irsa', 'wi']);
    expect(helm(['template', 'x', CHART_DIR, '--set', 'jobs.serviceAccountName=Not_OK']).status).not.toBe(0);
  });
});

describe('admission policy (ValidatingAdmissionPolicy)', () => {
  type Vap = K8sObject & { spec: { validations: { expression: string; messageExpression: string }[] } };
  type Binding = K8sObject & {
    spec: {
      policyName: string;
      validationActions: string[];
      matchResources?: { namespaceSelector: { matchExpressions: { values: string[] }[] } };
    };
  };
  const of = (args: string[] = []) => {
    const objs = template(args);
    return {
      vap: objs.find((o) => o.kind === 'ValidatingAdmissionPolicy') as Vap | undefined,
      binding: objs.find((o) => o.kind === 'ValidatingAdmissionPolicyBinding') as Binding | undefined,
    };
  };

  it('is on by default, refusing, in the watched namespaces, the service accounts and volume types the install does not allow', () => {
    const { vap, binding } = of(['--set-json', 'jobs.allowedServiceAccounts=["irsa"]']);
    const [sa, volumes] = vap!.spec.validations;
    expect(sa!.expression).toContain('object.spec.jobTemplate.serviceAccountName in ["default","irsa"]');
    expect(sa!.messageExpression).toContain('spec.jobTemplate.serviceAccountName');
    for (const t of ['configMap', 'emptyDir', 'csi', 'persistentVolumeClaim', 'image'])
      expect(volumes!.expression).toContain(`has(v.${t})`);
    expect(volumes!.expression).not.toMatch(/secret|projected|hostPath/);
    expect(volumes!.messageExpression).toContain('spec.jobTemplate.volumes');
    expect(binding!.spec).toMatchObject({ policyName: vap!.metadata.name, validationActions: ['Deny'] });
    expect(binding!.spec.matchResources!.namespaceSelector.matchExpressions[0]!.values).toEqual([
      'dbm-system',
    ]);
  });

  it('covers every namespace with rbac.clusterWide, can only warn, and can be off', () => {
    expect(of(['--set', 'rbac.clusterWide=true']).binding!.spec.matchResources).toBeUndefined();
    expect(
      of(['--set-json', 'admissionPolicy.validationActions=["Warn","Audit"]']).binding!.spec
        .validationActions,
    ).toEqual(['Warn', 'Audit']);
    expect(of(['--set', 'admissionPolicy.enabled=false'])).toEqual({ vap: undefined, binding: undefined });
  });
});

describe('NetworkPolicy of the Job Pods', () => {
  it('by default: egress to DNS and TCP 5432 anywhere, for the Pods of the operator’s Jobs, in each watched namespace', () => {
    const [p, ...more] = policies(template());
    expect(more).toEqual([]);
    expect(p!.metadata.namespace).toBe('dbm-system');
    // The labels the operator puts on its Jobs' Pods (operator/job-names.ts jobLabels).
    expect(p!.spec.podSelector.matchLabels).toEqual({
      'app.kubernetes.io/managed-by': 'database-migration-operator',
    });
    expect(p!.spec.podSelector.matchExpressions).toEqual([{ key: 'dbmigrate.io/step', operator: 'Exists' }]);
    expect(p!.spec.policyTypes).toEqual(['Egress']);
    expect(p!.spec.egress).toEqual([
      {
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
      { ports: [{ protocol: 'TCP', port: 5432 }] },
    ]);
    const ns = policies(template(['--set-json', 'watchNamespaces=["a","b"]'])).map(
      (x) => x.metadata.namespace,
    );
    expect(ns).toEqual(['a', 'b']);
  });

  it('narrows the database to CIDRs or a namespace, on its ports, and DNS to its peers', () => {
    const [p] = policies(
      template([
        '--set-json',
        'networkPolicy.database={"ports":[6432],"cidrs":["10.1.0.0/16"],"namespaceSelector":{"matchLabels":{"db":"pg"}},"podSelector":{"matchLabels":{"app":"pg"}}}',
        '--set-json',
        'networkPolicy.dns.to=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}}}]',
      ]),
    );
    expect(p!.spec.egress[0]!.to).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } },
    ]);
    expect(p!.spec.egress[1]).toEqual({
      ports: [{ protocol: 'TCP', port: 6432 }],
      to: [
        { ipBlock: { cidr: '10.1.0.0/16' } },
        { namespaceSelector: { matchLabels: { db: 'pg' } }, podSelector: { matchLabels: { app: 'pg' } } },
      ],
    });
  });

  it('is off-able, and not rendered cluster-wide (the chart cannot know the namespaces)', () => {
    expect(policies(template(['--set', 'networkPolicy.enabled=false']))).toEqual([]);
    expect(policies(template(['--set', 'rbac.clusterWide=true']))).toEqual([]);
  });
});
