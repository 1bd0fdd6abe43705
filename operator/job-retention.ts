// Jobs (and, through ownerReferences, their Pods) of old runs are deleted once a
// run has ended: a resource retried or edited many times would otherwise keep
// every Job it ever ran, each with a Pod, in etcd and in every cache. The last
// few runs stay, so `kubectl logs` and `kubectl dbm logs` still reach them.
import type { V1Job } from '@kubernetes/client-node';
import { ATTEMPT_LABEL, GENERATION_LABEL } from './job-names.js';

/** Runs (generation, attempt) whose Jobs are kept per resource, the newest ones. */
export const KEEP_RUNS = 3;

const runOf = (job: V1Job): [number, number] => [
  Number(job.metadata?.labels?.[GENERATION_LABEL]),
  Number(job.metadata?.labels?.[ATTEMPT_LABEL]),
];

function finished(job: V1Job): boolean {
  return Boolean(
    job.status?.conditions?.some(
      (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
    ),
  );
}

/**
 * The names of the Jobs to delete: finished Jobs of runs older than the newest
 * `keep` runs. A Job that is still running is never chosen (a run that gave way
 * to a new generation waits for it), nor one whose run labels cannot be read.
 */
export function jobsToPrune(jobs: readonly V1Job[], keep = KEEP_RUNS): string[] {
  const runs = new Map<string, [number, number]>();
  for (const j of jobs) {
    const [g, a] = runOf(j);
    if (Number.isInteger(g) && Number.isInteger(a)) runs.set(`${g}.${a}`, [g, a]);
  }
  const kept = new Set(
    [...runs.entries()]
      .sort(([, x], [, y]) => y[0] - x[0] || y[1] - x[1])
      .slice(0, keep)
      .map(([k]) => k),
  );
  return jobs
    .filter((j) => {
      const [g, a] = runOf(j);
      return Number.isInteger(g) && Number.isInteger(a) && !kept.has(`${g}.${a}`) && finished(j);
    })
    .map((j) => j.metadata?.name)
    .filter((n): n is string => Boolean(n));
}
