// Which Job `kubectl dbm logs` shows: Jobs carry the run in their labels
// (operator/job-names.ts), so the latest run is the highest generation, then attempt.
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { ATTEMPT_LABEL, GENERATION_LABEL, STEP_LABEL } from '../operator/job-names.js';

export interface JobChoice {
  job: string;
  step: string;
  run: string;
}

function runOf(job: V1Job): [number, number] {
  const labels = job.metadata?.labels ?? {};
  return [Number(labels[GENERATION_LABEL] ?? 0) || 0, Number(labels[ATTEMPT_LABEL] ?? 0) || 0];
}

const created = (o: { metadata?: { creationTimestamp?: Date | string } }) =>
  new Date(o.metadata?.creationTimestamp ?? 0).getTime();

/**
 * The Job of `step` in the latest run that has one; without a step, the newest
 * Job of the latest run (the step that ran last).
 */
export function latestJob(jobs: readonly V1Job[], step?: string): JobChoice | undefined {
  const candidates = jobs.filter((j) => !step || j.metadata?.labels?.[STEP_LABEL] === step);
  const best = [...candidates].sort((a, b) => {
    const [ga, aa] = runOf(a);
    const [gb, ab] = runOf(b);
    return gb - ga || ab - aa || created(b) - created(a);
  })[0];
  if (!best?.metadata?.name) return undefined;
  const [g, a] = runOf(best);
  return { job: best.metadata.name, step: best.metadata.labels?.[STEP_LABEL] ?? '', run: `${g}.${a}` };
}

/** The Job's newest Pod (a Job with backoffLimit > 0 may have several). */
export function newestPod(pods: readonly V1Pod[]): V1Pod | undefined {
  return [...pods].sort((a, b) => created(b) - created(a))[0];
}
