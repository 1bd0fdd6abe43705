// Live progress of the migrate step: the migrate Job has no API access, so it
// prints a marked line before each migration ({"dbmigrateProgress": ...}) and
// the operator reads the Pod's log tail while the Pod runs. Best effort and for
// people only: a log that cannot be read shows no progress, it never fails a run.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { MigrateProgress, PROGRESS_MARKER } from '../crds/job-result.js';
import { describeApiError } from './runtime/kube-clients.js';

/** The marked line is printed just before each migration's own log lines: a short tail holds it. */
export const PROGRESS_TAIL_LINES = 20;
/** Bounds the read (a migration that logs long lines must not make every poll large). */
export const PROGRESS_LOG_MAX_BYTES = 64 * 1024;
/** The longest migration name the Progress column shows (the whole one is in status.progress.current). */
const MESSAGE_NAME_MAX = 80;

/** The last complete, valid progress line in a log (tail); undefined when there is none. */
export function progressFromLog(log: string): MigrateProgress | undefined {
  const lines = log.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith(PROGRESS_MARKER)) continue;
    try {
      const parsed = MigrateProgress.safeParse(
        (JSON.parse(line) as { dbmigrateProgress?: unknown }).dbmigrateProgress,
      );
      if (parsed.success && parsed.data.applied <= parsed.data.total) return parsed.data;
    } catch {
      // Cut by the byte bound or garbled: look further up.
    }
  }
  return undefined;
}

/** The Progress column: "2/5: AddIndex1700000" while the 2nd of 5 runs, "5/5 applied" at the end. */
export function progressMessage(p: MigrateProgress): string {
  if (p.current === undefined) return `${p.applied}/${p.total} applied`;
  const name =
    p.current.length > MESSAGE_NAME_MAX ? `${p.current.slice(0, MESSAGE_NAME_MAX - 1)}…` : p.current;
  return `${Math.min(p.applied + 1, p.total)}/${p.total}: ${name}`;
}

/** The running Pod of `job` among the observed Pods (the newest, when a retried Job has several). */
export function runningPodOf(job: string, pods: readonly V1Pod[]): V1Pod | undefined {
  return pods
    .filter(
      (p) =>
        (p.metadata?.labels?.['batch.kubernetes.io/job-name'] === job ||
          p.metadata?.labels?.['job-name'] === job) &&
        p.status?.phase === 'Running' &&
        !p.metadata?.deletionTimestamp,
    )
    .sort((a, b) =>
      String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')),
    )[0];
}

/** Reads the progress of the migrate Job `job` from its running Pod's log; undefined when there is none to read. */
export async function readMigrateProgress(
  core: CoreV1Api,
  namespace: string,
  job: string,
  pods: readonly V1Pod[],
  logger: Logger,
): Promise<MigrateProgress | undefined> {
  const pod = runningPodOf(job, pods);
  if (!pod?.metadata?.name) return undefined;
  try {
    const log = await core.readNamespacedPodLog({
      name: pod.metadata.name,
      namespace,
      container: 'migrator',
      tailLines: PROGRESS_TAIL_LINES,
      limitBytes: PROGRESS_LOG_MAX_BYTES,
    });
    return progressFromLog(String(log));
  } catch (err) {
    logger.debug({ pod: pod.metadata.name, err: describeApiError(err) }, 'could not read migrate progress');
    return undefined;
  }
}
