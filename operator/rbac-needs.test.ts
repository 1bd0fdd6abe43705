// The RBAC catalog (rbac-needs.ts) against the code: every client call and
// informer the operator has, as (group/resource:verb), must be in the catalog,
// and every catalog entry must be something the code does.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needKeys, RBAC_NEEDS } from './rbac-needs.js';

const OPERATOR = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [p] : [];
  });
}

const VERB: Record<string, string> = {
  read: 'get',
  list: 'list',
  create: 'create',
  replace: 'update',
  patch: 'patch',
  delete: 'delete',
};
// The client-node type name in a method (readNamespaced<Type>) and its API group/resource.
const RESOURCE: Record<string, string> = {
  CustomObject: 'dbmigrate.io/databasemigrations',
  CustomObjectStatus: 'dbmigrate.io/databasemigrations/status',
  Job: 'batch/jobs',
  Pod: '/pods',
  PodLog: '/pods/log',
  ConfigMap: '/configmaps',
  Event: '/events',
  Deployment: 'apps/deployments',
  StatefulSet: 'apps/statefulsets',
  DeploymentScale: 'apps/deployments/scale',
  StatefulSetScale: 'apps/statefulsets/scale',
  Lease: 'coordination.k8s.io/leases',
  TokenReview: 'authentication.k8s.io/tokenreviews',
  SubjectAccessReview: 'authorization.k8s.io/subjectaccessreviews',
};
const GROUP_OF_PATH: Record<string, string> = {
  '/api/v1': '',
  '/apis/batch/v1': 'batch',
  '/apis/${GROUP}/${VERSION}': 'dbmigrate.io',
};
const PLURAL_OF_PATH: Record<string, string> = { '${PLURAL}': 'databasemigrations' };

/** `group/resource:verb` → the files that need it. */
function callsInCode(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const add = (key: string, file: string) => found.set(key, (found.get(key) ?? new Set()).add(file));
  for (const file of sources(OPERATOR)) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(OPERATOR, file);
    const calls = [
      ...[...text.matchAll(/\.(read|list|create|replace|patch|delete)Namespaced(\w+)\(/g)].map((m) => [
        m[1]!,
        m[2]!,
      ]),
      ...[...text.matchAll(/\.list(\w+)ForAllNamespaces\(/g)].map((m) => ['list', m[1]!]),
      ...[...text.matchAll(/\.listCluster(CustomObject)\(/g)].map((m) => ['list', m[1]!]),
      // Cluster-scoped reviews (metrics auth): createTokenReview, createSubjectAccessReview.
      ...[...text.matchAll(/\.create(TokenReview|SubjectAccessReview)\(/g)].map((m) => ['create', m[1]!]),
    ];
    for (const [prefix, type] of calls) {
      const resource = RESOURCE[type!];
      if (!resource) throw new Error(`${rel}: ${prefix}…${type}: add the type to RESOURCE in this test`);
      add(`${resource}:${VERB[prefix!]}`, rel);
    }
    // Informers list and watch their path.
    for (const m of text.matchAll(/`(\/apis?(?:\/[^/`]+){1,2})\/namespaces\/\$\{ns\}\/([^`/]+)`/g)) {
      const group = GROUP_OF_PATH[m[1]!];
      if (group === undefined) throw new Error(`${rel}: informer path ${m[0]}: add its group to this test`);
      const resource = PLURAL_OF_PATH[m[2]!] ?? m[2]!;
      for (const verb of ['list', 'watch']) add(`${group}/${resource}:${verb}`, rel);
    }
    // Owner references that block the owner's deletion need update on its finalizers.
    if (/blockOwnerDeletion:\s*true/.test(text))
      add('dbmigrate.io/databasemigrations/finalizers:update', rel);
  }
  return found;
}

describe('RBAC needs', () => {
  const inCode = callsInCode();

  it('lists every call the code makes', () => {
    const missing = [...inCode.keys()]
      .filter((k) => !needKeys().includes(k))
      .map((k) => `${k} (${[...inCode.get(k)!].join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('lists nothing the code does not do', () => {
    expect(needKeys().filter((k) => !inCode.has(k))).toEqual([]);
  });

  it('grants the Lease in its own scope only, and never Secrets', () => {
    const leases = [...inCode.entries()].filter(([k]) => k.startsWith('coordination.k8s.io/'));
    expect(
      leases.every(([, files]) => [...files].every((f) => f.startsWith('runtime/leader-election'))),
    ).toBe(true);
    expect(needKeys('lease')).toEqual(leases.map(([k]) => k).sort());
    expect(RBAC_NEEDS.some((n) => n.resource.startsWith('secrets'))).toBe(false);
  });
});
