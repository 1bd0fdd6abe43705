// The full plan for people: the Job result the operator decides on is cut to
// 4 KiB, so after a check or migrate Job ends the operator copies the
// migrator's full result (one marked stdout line, already scrubbed) from the
// Pod's log into ConfigMap <resource>-plan, owned by the resource. It is
// best-effort and never part of a decision: when the log cannot be read the
// ConfigMap holds the cut result and says why.
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type DatabaseMigration } from '../crds/database-migration.js';
import { fullResultFromLog, type JobResult } from '../crds/job-result.js';
import { describeApiError, httpStatus } from './runtime/kube-clients.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type RunId } from './job-names.js';

/** Below the API server's 1 MiB object limit, with room for metadata. */
export const PLAN_CONFIGMAP_MAX_BYTES = 900 * 1024;
/** How much of a Pod's log is read at most (the marked line is near its end). */
const LOG_READ_MAX_BYTES = 8 * 1024 * 1024;

export type PublishedStep = 'check' | 'migrate';

/** `<resource>-plan`, shortened with a hash when the resource name is long (a ConfigMap name is ≤ 253). */
export function planConfigMapName(resource: string): string {
  const name = `${resource}-plan`;
  if (name.length <= 253) return name;
  const hash = createHash('sha256').update(resource).digest('hex').slice(0, 8);
  return `${resource.slice(0, 235).replace(/[-.]+$/, '')}-${hash}-plan`;
}

const KEY: Record<PublishedStep, string> = { check: 'plan.json', migrate: 'applied.json' };

/**
 * The ConfigMap's data after `step` of `run`: the other step's entry is kept
 * only when it belongs to the same run. `full` is the JSON text from the log;
 * without it the cut result is stored with the reason. Bounded: an entry that
 * does not fit is cut and a note says where the whole one is.
 */
export function planConfigMapData(
  previous: Record<string, string> | undefined,
  run: RunId,
  step: PublishedStep,
  job: string,
  full: string | undefined,
  cut: JobResult | undefined,
  whyNoFull: string | undefined,
): Record<string, string> {
  const runId = `${run.generation}.${run.attempt}`;
  const data: Record<string, string> = {};
  if (previous?.run === runId) Object.assign(data, previous);
  data.run = runId;
  for (const k of [KEY[step], `${step}.note`]) delete data[k];
  let text = full ?? JSON.stringify(cut ?? null);
  const notes: string[] = [];
  if (full === undefined)
    notes.push(
      `The full result could not be read (${whyNoFull ?? 'unknown'}); this is the result cut to 4 KiB from the termination message of Job ${job}.`,
    );
  const used = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  const room = PLAN_CONFIGMAP_MAX_BYTES - used - 1024;
  if (Buffer.byteLength(text) > room) {
    const total = Buffer.byteLength(text);
    text = Buffer.from(text).subarray(0, Math.max(0, room)).toString('utf8');
    notes.push(
      `Truncated: ${Buffer.byteLength(text)} of ${total} bytes kept (the ConfigMap is bounded to ${PLAN_CONFIGMAP_MAX_BYTES} bytes); the whole result is the dbmigrateFullResult line of: kubectl logs job/${job}`,
    );
  }
  data[KEY[step]] = text;
  if (notes.length) data[`${step}.note`] = notes.join(' ');
  return data;
}

/** Reads the full result from the newest Pod of `job`; the reason when it cannot. */
async function readFullResult(
  core: CoreV1Api,
  namespace: string,
  job: string,
): Promise<{ full?: string; why?: string }> {
  try {
    const pods = await core.listNamespacedPod({
      namespace,
      labelSelector: `batch.kubernetes.io/job-name=${job}`,
    });
    const pod = pods.items.sort((a, b) =>
      String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')),
    )[0];
    if (!pod?.metadata?.name) return { why: 'the Pod is gone' };
    const log = await core.readNamespacedPodLog({
      name: pod.metadata.name,
      namespace,
      container: 'migrator',
      tailLines: 50,
      limitBytes: LOG_READ_MAX_BYTES,
    });
    const full = fullResultFromLog(String(log));
    return full ? { full } : { why: 'the log has no complete dbmigrateFullResult line' };
  } catch (err) {
    return { why: `the log could not be read: ${describeApiError(err)}` };
  }
}

/**
 * Why the operator must not write `existing`: a ConfigMap of that name which this
 * resource does not own (its controller ownerReference) or the operator did not
 * create (its managed-by label) belongs to someone else and is never overwritten.
 */
export function notOwnedReason(existing: V1ConfigMap, dm: DatabaseMigration): string | undefined {
  const owner = existing.metadata?.ownerReferences?.find((o) => o.controller);
  const ownedByUs = owner?.kind === KIND && owner.uid === dm.metadata.uid;
  const managed = existing.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
  if (ownedByUs && managed) return undefined;
  const name = existing.metadata?.name ?? '';
  const by = owner ? `is controlled by ${owner.kind} ${owner.name}` : 'has no controller ownerReference';
  return `ConfigMap ${name} exists and ${ownedByUs ? `lacks the label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` : `${by}, not by this DatabaseMigration`}; the operator does not overwrite it (rename or delete it to get the full plan there)`;
}

export type PublishOutcome = { written: true } | { written: false; configMap: string; reason: string };

/**
 * Writes (creates or updates) the plan ConfigMap for a finished check or migrate
 * Job; refuses to update one this resource does not own.
 */
export async function publishResult(
  core: CoreV1Api,
  dm: DatabaseMigration,
  intent: { step: PublishedStep; job: string; run: RunId; result?: JobResult },
  logger: Logger,
): Promise<PublishOutcome> {
  const namespace = dm.metadata.namespace;
  const name = planConfigMapName(dm.metadata.name);
  let existing: V1ConfigMap | undefined;
  try {
    existing = await core.readNamespacedConfigMap({ name, namespace });
  } catch (err) {
    if (httpStatus(err) !== 404) throw err;
  }
  const refused = existing && notOwnedReason(existing, dm);
  if (refused) {
    logger.warn({ configMap: name, step: intent.step }, refused);
    return { written: false, configMap: name, reason: refused };
  }
  // Only for a ConfigMap it may write does the operator read the Pod's log.
  const { full, why } = await readFullResult(core, namespace, intent.job);
  if (!full)
    logger.warn(
      { job: intent.job, why },
      'the full result is not in the log; the plan ConfigMap keeps the cut one',
    );
  const data = planConfigMapData(
    existing?.data,
    intent.run,
    intent.step,
    intent.job,
    full,
    intent.result,
    why,
  );
  const body: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: KIND,
          name: dm.metadata.name,
          uid: dm.metadata.uid,
          controller: true,
        },
      ],
    },
    data,
  };
  if (existing) await core.replaceNamespacedConfigMap({ name, namespace, body });
  else await core.createNamespacedConfigMap({ namespace, body });
  logger.info({ configMap: name, step: intent.step, full: Boolean(full) }, 'wrote the plan ConfigMap');
  return { written: true };
}
