// The edge's reads for one reconcile: which resources need their migrations
// ConfigMap read (a GET each), and which never do.
import { describe, expect, it } from '@jest/globals';
import type { DatabaseMigration } from '../crds/database-migration.js';
import { minimalSpec } from '../test/lib/spec.js';
import { migrationsConfigMap, settled } from './observe.js';
import type { KubeClients } from './runtime/kube-clients.js';

function resource(
  status: DatabaseMigration['status'],
  meta: Partial<DatabaseMigration['metadata']> = {},
): DatabaseMigration {
  return {
    apiVersion: 'dbmigrate.io/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name: 'm', namespace: 'ns', uid: 'u1', generation: 2, ...meta },
    spec: minimalSpec({ migrations: { configMapRef: { name: 'migrations' } } }),
    ...(status ? { status } : {}),
  } as DatabaseMigration;
}

function countingClients(): { clients: KubeClients; reads: () => number } {
  let n = 0;
  const core = {
    readNamespacedConfigMap: async () => {
      n++;
      return { metadata: { uid: 'cm1', resourceVersion: '7' }, data: { '1-init.js': 'x' } };
    },
  };
  return { clients: { core } as unknown as KubeClients, reads: () => n };
}

describe('settled', () => {
  it('is a terminal run of the current generation, with no retry asked and no workload to scale back', () => {
    expect(settled(resource({ phase: 'Succeeded', observedGeneration: 2 }))).toBe(true);
    expect(
      settled(
        resource(
          { phase: 'Failed', observedGeneration: 2, retryToken: 'a' },
          {
            annotations: { 'dbmigrate.io/retry': 'a' },
          },
        ),
      ),
    ).toBe(true);
  });

  it('is not a new generation, a new retry, workloads still down, or a run that is not over', () => {
    expect(settled(resource({ phase: 'Succeeded', observedGeneration: 1 }))).toBe(false);
    expect(
      settled(
        resource({ phase: 'Failed', observedGeneration: 2 }, { annotations: { 'dbmigrate.io/retry': 'b' } }),
      ),
    ).toBe(false);
    expect(
      settled(
        resource({
          phase: 'Restored',
          observedGeneration: 2,
          scaledDown: [{ kind: 'Deployment', name: 'app', replicas: 2 }],
        }),
      ),
    ).toBe(false);
    expect(settled(resource({ phase: 'Queued', observedGeneration: 2 }))).toBe(false);
    expect(settled(resource({ phase: 'Checking', observedGeneration: 2 }))).toBe(false);
    expect(settled(resource(undefined))).toBe(false);
  });
});

describe('migrationsConfigMap', () => {
  it('reads nothing for a settled resource or for one waiting behind another run', async () => {
    const c = countingClients();
    expect(
      await migrationsConfigMap(c.clients, resource({ phase: 'Succeeded', observedGeneration: 2 })),
    ).toBeUndefined();
    expect(
      await migrationsConfigMap(c.clients, resource({ phase: 'Queued', observedGeneration: 2 }), true),
    ).toBeUndefined();
    expect(await migrationsConfigMap(c.clients, resource(undefined), true)).toBeUndefined();
    expect(c.reads()).toBe(0);
  });

  it('reads it for a run about to start (new generation, or a queued one whose target is free)', async () => {
    const c = countingClients();
    const seen = await migrationsConfigMap(
      c.clients,
      resource({ phase: 'Succeeded', observedGeneration: 1 }),
    );
    expect(seen).toMatchObject({ uid: 'cm1', resourceVersion: '7' });
    await migrationsConfigMap(c.clients, resource({ phase: 'Queued', observedGeneration: 2 }));
    expect(c.reads()).toBe(2);
  });
});
