// The migrations a run uses cannot change under it. An image is pinned by the
// digest its first Pod resolved (a re-tagged image then changes nothing); a
// ConfigMap cannot be pinned, so its identity and content hash are frozen at
// the run start and a later Job is refused when they differ (a copy would need
// the operator to write the migrations somewhere; refusing keeps it read-only
// and names the cause).
import type { V1Pod } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';

export const COPY_MIGRATIONS_CONTAINER = 'copy-migrations';

/** What the edge read of the migrations ConfigMap for this reconcile. */
export type ConfigMapSeen =
  { missing: true } | { missing?: false; uid: string; resourceVersion: string; sha256: string };

/** image with its tag (or earlier digest) replaced by `digest` ("sha256:..."). */
export function pinImage(image: string, digest: string): string {
  const at = image.indexOf('@');
  const base = at >= 0 ? image.slice(0, at) : image;
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  // A colon after the last slash is a tag; one before it is a registry port.
  const repo = colon > slash ? base.slice(0, colon) : base;
  return `${repo}@${digest}`;
}

/**
 * The digest of the migrations image as a Pod of the run resolved it: the
 * imageID of the container that copied the migrations. Only a registry digest
 * (…@sha256:…) can be pulled again; a bare image ID (a local image with no
 * registry) is not a reference and pins nothing.
 */
export function resolvedDigest(pods: readonly V1Pod[], jobNames: ReadonlySet<string>): string | undefined {
  for (const pod of pods) {
    const job = pod.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? pod.metadata?.labels?.['job-name'];
    if (!job || !jobNames.has(job)) continue;
    const status = pod.status?.initContainerStatuses?.find((s) => s.name === COPY_MIGRATIONS_CONTAINER);
    const m = /@(sha256:[0-9a-f]{64})$/.exec(status?.imageID ?? '');
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** A hash of a ConfigMap's content (data and binaryData, keys sorted): label edits do not change it. */
export function configMapHash(cm: {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}): string {
  const entries = (o: Record<string, string> | undefined) =>
    Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([entries(cm.data), entries(cm.binaryData)]))
    .digest('hex');
}
