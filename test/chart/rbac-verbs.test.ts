// The chart grants exactly what the operator's code calls: every (API group,
// resource, verb) of the rendered Roles / ClusterRole against operator/rbac-needs.ts,
// which operator/rbac-needs.test.ts checks against the code itself. A verb the
// code stops calling and a verb the chart lacks both fail here.
import { describe, expect, it } from '@jest/globals';
import { needKeys } from '../../operator/rbac-needs.js';
import { template, type K8sObject } from './tools.js';

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] };
type RoleObject = K8sObject & { rules: Rule[] };

const keysOf = (rules: Rule[]) =>
  [
    ...new Set(
      rules.flatMap((r) =>
        (r.apiGroups ?? []).flatMap((g) =>
          (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)),
        ),
      ),
    ),
  ].sort();
const roles = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind) as RoleObject[];
const operatorRoles = (objs: K8sObject[], kind: 'Role' | 'ClusterRole') =>
  roles(objs, kind).filter((r) => r.metadata.name === 'dbm-database-migration-operator');

describe('chart RBAC = the calls the code makes (operator/rbac-needs.ts)', () => {
  it('namespaced by default: a Role in the release namespace with exactly the watched-namespace needs', () => {
    const objs = template();
    const [role, ...more] = operatorRoles(objs, 'Role');
    expect(more).toEqual([]);
    expect(role?.metadata.namespace).toBe('dbm-system');
    expect(keysOf(role!.rules)).toEqual(needKeys('watched'));
    expect(operatorRoles(objs, 'ClusterRole')).toEqual([]);
    // Cluster-wide only the reviews behind /metrics (metrics.auth), bound to the operator alone.
    expect(objs.filter((o) => o.kind === 'ClusterRoleBinding').map((o) => o.metadata.name)).toEqual([
      'dbm-database-migration-operator-metrics-auth',
    ]);
    const auth = roles(objs, 'ClusterRole').find((r) => r.metadata.name.endsWith('-metrics-auth'))!;
    expect(keysOf(auth.rules)).toEqual(needKeys('metricsAuth'));
    expect(template(['--set', 'metrics.auth=false']).filter((o) => o.kind === 'ClusterRoleBinding')).toEqual(
      [],
    );
  });

  it('a Role per watched namespace, each with exactly the needs', () => {
    const objs = template(['--set-json', 'watchNamespaces=["team-a","team-b"]']);
    const found = operatorRoles(objs, 'Role');
    expect(found.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    for (const r of found) expect(keysOf(r.rules)).toEqual(needKeys('watched'));
    const bindings = objs.filter(
      (o) => o.kind === 'RoleBinding' && o.metadata.name === 'dbm-database-migration-operator',
    );
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
  });

  it('cluster-wide only when asked (rbac.clusterWide), with the same verbs and nothing more', () => {
    const objs = template(['--set', 'rbac.clusterWide=true']);
    const [cr, ...more] = operatorRoles(objs, 'ClusterRole');
    expect(more).toEqual([]);
    expect(keysOf(cr!.rules)).toEqual(needKeys('watched'));
    expect(operatorRoles(objs, 'Role')).toEqual([]);
    expect(
      objs
        .filter((o) => o.kind === 'ClusterRoleBinding')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['dbm-database-migration-operator', 'dbm-database-migration-operator-metrics-auth']);
  });

  it('the Lease Role has exactly the lease needs, get and update on its own Lease only', () => {
    const lease = roles(template(), 'Role').find((r) => r.metadata.name.endsWith('-leader-election'))!;
    expect(lease.metadata.namespace).toBe('dbm-system');
    expect(keysOf(lease.rules)).toEqual(needKeys('lease'));
    for (const r of lease.rules)
      if (r.verbs.some((v) => v !== 'create'))
        expect(r.resourceNames).toEqual(['dbm-database-migration-operator-leader']);
  });
});
