// Every API call the operator makes, as RBAC sees it: (API group, resource,
// verb) and where it is granted. The chart's rules are exactly this list
// (test/chart/rbac-verbs.test.ts renders the chart and compares), and
// operator/rbac-needs.test.ts derives the calls from the code (the client
// methods it calls, the informers' paths) and compares them with this list
// both ways: a call the list lacks fails, and so does a need no code has.

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface RbacNeed {
  group: string;
  resource: string;
  verbs: readonly Verb[];
  /**
   * `watched`: in every namespace the operator watches; `lease`: the Lease's namespace, by name;
   * `metricsAuth`: cluster-wide reviews, only with metrics.auth (templates/metrics-auth-rbac.yaml).
   */
  scope: 'watched' | 'lease' | 'metricsAuth';
  why: string;
}

export const RBAC_NEEDS: readonly RbacNeed[] = [
  {
    group: 'dbmigrate.io',
    resource: 'databasemigrations',
    verbs: ['list', 'watch', 'patch'],
    scope: 'watched',
    why: 'the informer; patch: the finalizer',
  },
  {
    group: 'dbmigrate.io',
    resource: 'databasemigrations/status',
    verbs: ['update'],
    scope: 'watched',
    why: 'status writes (replace, with the resourceVersion read)',
  },
  {
    group: 'dbmigrate.io',
    resource: 'databasemigrations/finalizers',
    verbs: ['update'],
    scope: 'watched',
    why: 'Jobs are owned with blockOwnerDeletion: true, which the API server allows only to who may update the owner’s finalizers',
  },
  {
    group: 'batch',
    resource: 'jobs',
    verbs: ['create', 'list', 'watch', 'delete'],
    scope: 'watched',
    why: 'the run’s Jobs: created, watched, and deleted past retention or with a superseded run',
  },
  {
    group: '',
    resource: 'pods',
    verbs: ['list', 'watch'],
    scope: 'watched',
    why: 'the Jobs’ Pods: results, progress, workload Pods while restoring',
  },
  {
    group: '',
    resource: 'pods/log',
    verbs: ['get'],
    scope: 'watched',
    why: 'the full result and the migrate progress, from the run’s own Pods only (RBAC cannot narrow this to them)',
  },
  {
    group: '',
    resource: 'configmaps',
    verbs: ['get', 'create', 'update'],
    scope: 'watched',
    why: 'get: the migrations ConfigMap hash is frozen with the run; create/update: the <resource>-plan ConfigMap, only when the resource owns it',
  },
  {
    group: '',
    resource: 'events',
    verbs: ['create', 'patch'],
    scope: 'watched',
    why: 'Events on DatabaseMigrations',
  },
  {
    group: 'apps',
    resource: 'deployments',
    verbs: ['get'],
    scope: 'watched',
    why: 'restore: the workloads’ Pod selector and readiness',
  },
  { group: 'apps', resource: 'statefulsets', verbs: ['get'], scope: 'watched', why: 'as deployments' },
  {
    group: 'apps',
    resource: 'deployments/scale',
    verbs: ['get', 'update'],
    scope: 'watched',
    why: 'restore: scale the named workloads to zero and back',
  },
  {
    group: 'apps',
    resource: 'statefulsets/scale',
    verbs: ['get', 'update'],
    scope: 'watched',
    why: 'as deployments/scale',
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['get', 'create', 'update'],
    scope: 'lease',
    why: 'leader election (create cannot be narrowed by name; get and update are)',
  },
  {
    group: 'authentication.k8s.io',
    resource: 'tokenreviews',
    verbs: ['create'],
    scope: 'metricsAuth',
    why: '/metrics: who the scraper’s bearer token names',
  },
  {
    group: 'authorization.k8s.io',
    resource: 'subjectaccessreviews',
    verbs: ['create'],
    scope: 'metricsAuth',
    why: '/metrics: whether that user may get the non-resource URL /metrics',
  },
];

/** `group/resource:verb` for every need of `scope`, sorted. */
export function needKeys(scope?: RbacNeed['scope']): string[] {
  return RBAC_NEEDS.filter((n) => !scope || n.scope === scope)
    .flatMap((n) => n.verbs.map((v) => `${n.group}/${n.resource}:${v}`))
    .sort();
}
