// metrics.auth: the operator's /metrics behind TokenReview + SubjectAccessReview.
// The chart sets METRICS_AUTH, grants the operator the two reviews (a ClusterRole
// of its own, outside rbac.yaml), offers a reader ClusterRole to bind to the
// scraper, and makes the ServiceMonitor send a token.
import { template, type K8sObject } from './tools.js';

type Rule = { apiGroups?: string[]; resources?: string[]; nonResourceURLs?: string[]; verbs: string[] };
type Endpoint = Record<string, unknown>;

const named = (objs: K8sObject[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name) as
    (K8sObject & { rules?: Rule[] }) | undefined;
const env = (objs: K8sObject[]) => {
  const d = objs.find((o) => o.kind === 'Deployment') as K8sObject & {
    spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
  };
  return Object.fromEntries(d.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
};
const endpoint = (objs: K8sObject[]) =>
  (objs.find((o) => o.kind === 'ServiceMonitor') as K8sObject & { spec: { endpoints: Endpoint[] } }).spec
    .endpoints[0]!;

describe('metrics.auth', () => {
  it('is on by default: METRICS_AUTH, the review ClusterRole bound to the operator, a reader ClusterRole', () => {
    const objs = template(['--set', 'metrics.serviceMonitor.enabled=true']);
    expect(env(objs).METRICS_AUTH).toBe('true');
    expect(named(objs, 'ClusterRole', 'dbm-database-migration-operator-metrics-auth')?.rules).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]);
    const binding = named(objs, 'ClusterRoleBinding', 'dbm-database-migration-operator-metrics-auth') as
      | (K8sObject & {
          roleRef: { name: string };
          subjects: { kind: string; name: string; namespace: string }[];
        })
      | undefined;
    expect(binding?.roleRef.name).toBe('dbm-database-migration-operator-metrics-auth');
    const sa = objs.find((o) => o.kind === 'ServiceAccount')!;
    expect(binding?.subjects).toEqual([
      { kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'dbm-system' },
    ]);
    expect(named(objs, 'ClusterRole', 'dbm-database-migration-operator-metrics-reader')?.rules).toEqual([
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
    ]);
    expect(endpoint(objs).bearerTokenFile).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
  });

  it('the ServiceMonitor sends the configured authorization instead', () => {
    const auth = { type: 'Bearer', credentials: { name: 'prometheus-token', key: 'token' } };
    const objs = template([
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set-json',
      `metrics.serviceMonitor.authorization=${JSON.stringify(auth)}`,
    ]);
    expect(endpoint(objs).authorization).toEqual(auth);
    expect(endpoint(objs).bearerTokenFile).toBeUndefined();
  });

  it('off: no review RBAC, no token, METRICS_AUTH=false', () => {
    const objs = template(['--set', 'metrics.serviceMonitor.enabled=true,metrics.auth=false']);
    expect(env(objs).METRICS_AUTH).toBe('false');
    expect(
      objs.filter(
        (o) => o.metadata.name.includes('metrics-auth') || o.metadata.name.includes('metrics-reader'),
      ),
    ).toEqual([]);
    expect(endpoint(objs).bearerTokenFile).toBeUndefined();
    expect(endpoint(objs).authorization).toBeUndefined();
  });

  it('rbac.create=false renders no RBAC for it either', () => {
    const objs = template(['--set', 'rbac.create=false']);
    expect(objs.filter((o) => o.kind.startsWith('ClusterRole'))).toEqual([]);
  });
});
