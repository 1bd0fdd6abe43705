// What the edge reads from the cluster for one reconcile, besides the cached
// Jobs and Pods: the scaled-down workloads' Pods, the migrate step's progress,
// the migrations ConfigMap's identity. Each read is best effort where it may be.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { RETRY_ANNOTATION, validateSpec, type DatabaseMigration } from '../crds/database-migration.js';
import type { MigrateProgress } from '../crds/job-result.js';
import { configMapHash, type ConfigMapSeen } from './frozen-sources.js';
import { readMigrateProgress } from './migrate-progress.js';
import { isActive, isTerminal } from './phases.js';
import { frozenSpec } from './reconciler.js';
import { describeApiError, httpStatus, type KubeClients } from './runtime/kube-clients.js';
import { runningPods, scaledBackBy } from './workloads.js';

/** During a run: Pods of the scaled-down workloads that are still there (a backup or restore waits for 0). */
export async function workloadPods(
  clients: KubeClients,
  dm: DatabaseMigration,
  logger: Logger,
): Promise<number | undefined> {
  const recorded = dm.status?.scaledDown ?? [];
  if (!isActive(dm.status?.phase) || recorded.length === 0) return undefined;
  try {
    return await runningPods(clients.apps, clients.core, dm.metadata.namespace, recorded);
  } catch (err) {
    logger.warn({ err: describeApiError(err) }, "could not count the workloads' Pods; waiting");
    return 1;
  }
}

/** While a run waits for its stopped workloads: who keeps scaling them back (best effort). */
export async function workloadsScaledBackBy(
  clients: KubeClients,
  dm: DatabaseMigration,
  podsLeft: number | undefined,
  logger: Logger,
): Promise<string[] | undefined> {
  const recorded = dm.status?.scaledDown ?? [];
  if (!podsLeft || !dm.status?.workloadsStoppingSince || recorded.length === 0) return undefined;
  return scaledBackBy(clients.apps, dm.metadata.namespace, recorded).catch((err: unknown) => {
    logger.debug({ err: describeApiError(err) }, 'could not read who scaled the workloads back');
    return undefined;
  });
}

/** While the migrate Job runs: its progress, from its Pod's log tail (best effort, never an error). */
export async function migrateProgress(
  clients: KubeClients,
  dm: DatabaseMigration,
  pods: V1Pod[],
  logger: Logger,
): Promise<MigrateProgress | undefined> {
  const job = dm.status?.jobs?.migrate;
  if (dm.status?.phase !== 'Migrating' || dm.status.inspection || !job) return undefined;
  return readMigrateProgress(clients.core, dm.metadata.namespace, job, pods, logger);
}

/**
 * Settled: the run of the current generation has ended, no retry is asked for, no
 * workload waits to be scaled back. The reconciler leaves such a resource as it is,
 * so the edge reads nothing for it (most resources of a long-used cluster are settled,
 * and every one is reconciled at start and at each resync).
 */
export function settled(dm: DatabaseMigration): boolean {
  const s = dm.status;
  if (!s || !isTerminal(s.phase) || s.scaledDown?.length) return false;
  const retry = dm.metadata.annotations?.[RETRY_ANNOTATION];
  const sameRun = s.observedGeneration === dm.metadata.generation;
  return (
    (sameRun && (retry === undefined || retry === s.retryToken)) || Boolean(dm.metadata.deletionTimestamp)
  );
}

/**
 * The migrations ConfigMap the run uses:
 * identity and content hash, so the reconciler can refuse one changed mid-run.
 * Not read for a settled resource, nor (`waits`) for one that can only stay queued
 * behind another run: the reconciler uses it only in an active run and when a run starts.
 */
export async function migrationsConfigMap(
  clients: KubeClients,
  dm: DatabaseMigration,
  waits = false,
): Promise<ConfigMapSeen | undefined> {
  if (!isActive(dm.status?.phase) && (waits || settled(dm))) return undefined;
  // An active run reads its own; a run about to start reads the live spec's.
  const live = validateSpec(dm.spec);
  const spec =
    (isActive(dm.status?.phase) ? frozenSpec(dm.status) : undefined) ?? (live.ok ? live.spec : undefined);
  const name = spec?.migrations.configMapRef?.name;
  if (!name) return undefined;
  try {
    const cm = await clients.core.readNamespacedConfigMap({ name, namespace: dm.metadata.namespace });
    return {
      uid: cm.metadata?.uid ?? '',
      resourceVersion: cm.metadata?.resourceVersion ?? '',
      sha256: configMapHash(cm),
    };
  } catch (err) {
    if (httpStatus(err) === 404) return { missing: true };
    throw err;
  }
}
