// Kubernetes Events about an object of the operator's kind, visible in `kubectl describe`.
// Repeats of the same (object, reason, message) bump the count of one Event
// instead of piling up new ones, as client-go's recorder does.
import { createHash } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';

/** The object an Event is about: any namespaced object of the kind the recorder was made for. */
export interface InvolvedObject {
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string };
}

export interface EventSink<T extends InvolvedObject = InvolvedObject> {
  emit(obj: T, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** Which kind the recorder's Events are about (the domain passes its API version and kind). */
export interface EventKind {
  apiVersion: string;
  kind: string;
}

const COMPONENT = 'database-migration-operator';

export function createEventRecorder<T extends InvolvedObject>(
  core: CoreV1Api,
  instance: string,
  logger: Logger,
  of: EventKind,
): EventSink<T> {
  const seen = new Map<string, { count: number; first: Date }>();
  return {
    async emit(obj, type, reason, message) {
      const ns = obj.metadata.namespace;
      const digest = createHash('sha256')
        .update(`${obj.metadata.uid}/${type}/${reason}/${message}`)
        .digest('hex')
        .slice(0, 16);
      const name = `${obj.metadata.name.slice(0, 200)}.${digest}`;
      const now = new Date();
      const prior = seen.get(name);
      const count = (prior?.count ?? 0) + 1;
      const first = prior?.first ?? now;
      seen.set(name, { count, first });
      if (seen.size > 5000) seen.delete(seen.keys().next().value as string);
      const body: CoreV1Event = {
        metadata: { name, namespace: ns },
        involvedObject: {
          apiVersion: of.apiVersion,
          kind: of.kind,
          name: obj.metadata.name,
          namespace: ns,
          uid: obj.metadata.uid,
          ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
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
