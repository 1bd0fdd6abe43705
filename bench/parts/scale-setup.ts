// The scale part's setup and teardown: the resources (settled ones with a
// finished run's status), a watch counting the writes to them, and the strip
// of our finalizer so the bench's namespaces can go.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type DatabaseMigration } from '../../crds/database-migration.js';
import { baseResource, waitFor, type Clients } from '../../test/integration/harness.js';
import { pool } from '../lib/cluster.js';

export const LABEL = 'dbmigrate.io/bench';

export interface ScaleShape {
  resources: number;
  queued: number;
}

export async function createAll(c: Clients, o: ScaleShape, nss: string[]): Promise<void> {
  const settled = o.resources - o.queued;
  const items = Array.from({ length: o.resources }, (_, i) => i);
  await pool(items, 24, async (i) => {
    const ns = nss[i % nss.length]!;
    const name = `scale-${String(i).padStart(5, '0')}`;
    const body = baseResource(name, ns, i < settled ? `svc_${i}` : 'shared');
    (body.metadata as { labels?: Record<string, string> }).labels = { [LABEL]: 'scale' };
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      body,
    });
    if (i < settled) {
      // A finished run, as a cluster that has used the operator for a while holds them.
      const now = new Date().toISOString();
      await c.custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: PLURAL,
          name,
          body: {
            status: {
              phase: 'Succeeded',
              observedGeneration: 1,
              attempt: 1,
              startedAt: now,
              completedAt: now,
              conditions: ['Ready', 'Reconciling', 'Stalled'].map((type) => ({
                type,
                status: type === 'Ready' ? 'True' : 'False',
                reason: 'Succeeded',
                message: 'migrations applied',
                lastTransitionTime: now,
                observedGeneration: 1,
              })),
            },
          },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }
  });
}

/**
 * Counts MODIFIED events of the bench's resources (each is one write: status,
 * finalizer or spec). The API server ends a watch after a few minutes: it is
 * resumed from the last resourceVersion seen, so no write goes uncounted.
 */
export async function watchWrites(
  kc: k8s.KubeConfig,
): Promise<{ count: () => number; lastAt: () => number; stop: () => void }> {
  let n = 0;
  let last = Date.now();
  let rv: string | undefined;
  let stopped = false;
  let req: { abort: () => void } | undefined;
  const watch = new k8s.Watch(kc);
  const start = async (): Promise<void> => {
    req = await watch.watch(
      `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      { labelSelector: `${LABEL}=scale`, allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
      (type, obj: { metadata?: { resourceVersion?: string } }) => {
        rv = obj.metadata?.resourceVersion ?? rv;
        if (type === 'MODIFIED') {
          n++;
          last = Date.now();
        }
      },
      () => {
        if (!stopped) setTimeout(() => void start().catch(() => undefined), 100);
      },
    );
  };
  await start();
  return {
    count: () => n,
    lastAt: () => last,
    stop: () => {
      stopped = true;
      req?.abort();
    },
  };
}

/** Our finalizer on a resource outlives a stopped operator: strip it so the namespaces can go. */
export async function stripFinalizers(c: Clients): Promise<void> {
  // Retried: a CRD applied a moment ago answers 429 while its storage initializes.
  const list = await waitFor(
    'the resources to list',
    async () =>
      (await c.custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        labelSelector: `${LABEL}=scale`,
      })) as { items: DatabaseMigration[] },
  );
  await pool(
    list.items.filter((d) => d.metadata.finalizers?.length),
    24,
    (d) =>
      c.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: d.metadata.namespace,
          plural: PLURAL,
          name: d.metadata.name,
          body: { metadata: { finalizers: null } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
  );
}
