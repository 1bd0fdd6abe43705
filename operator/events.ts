// Kubernetes Events about a DatabaseMigration, visible in `kubectl describe`.
// Repeats of the same (object, reason, message) bump the count of one Event
// instead of piling up new ones, as client-go's recorder does.
import { createHash } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type DatabaseMigration } from '../crds/database-migration.js';

export interface EventSink {
  emit(dm: DatabaseMigration, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

const COMPONENT = 'database-migration-operator';

export function createEventRecorder(core: CoreV1Api, instance: string, logger: Logger): EventSink {
  const seen = new Map<string, { count: number; first: Date }>();
  return {
    async emit(dm, type, reason, message) {
      const ns = dm.metadata.namespace;
      const digest = createHash('sha256')
        .update(`${dm.metadata.uid}/${type}/${reason}/${message}`)
        .digest('hex')
        .slice(0, 16);
      const name = `${dm.metadata.name.slice(0, 200)}.${digest}`;
      const now = new Date();
      const prior = seen.get(name);
      const count = (prior?.count ?? 0) + 1;
      const first = prior?.first ?? now;
      seen.set(name, { count, first });
      if (seen.size > 5000) seen.delete(seen.keys().next().value as string);
      const body: CoreV1Event = {
        metadata: { name, namespace: ns },
        involvedObject: {
          apiVersion: API_VERSION,
          kind: KIND,
          name: dm.metadata.name,
          namespace: ns,
          uid: dm.metadata.uid,
          ...(dm.metadata.resourceVersion ? { resourceVersion: dm.metadata.resourceVersion } : {}),
        },
        type,
        reason,
        message: message.slice(0, 1024),
        count,
        firstTimestamp: first,
        lastTimestamp: now,
        source: { component: COMPONENT },
        reportingComponent: COMPONENT,
        reportingInstance: instance.slice(0, 128),
      };
      try {
        if (prior) {
          await core.patchNamespacedEvent(
            { name, namespace: ns, body: { count, lastTimestamp: now } },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          );
        } else {
          await core.createNamespacedEvent({ namespace: ns, body });
        }
      } catch (err) {
        // An Event is best effort: losing one must never fail a reconcile.
        logger.warn({ err: String(err), reason }, 'could not record event');
      }
    },
  };
}
