// Reads what a step's Job did: running, or finished with the result its
// container wrote to the termination message (validated with the contract).
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { parseJobResult, type JobResult } from '../crds/job-result.js';

export type StepObservation =
  | { state: 'absent' }
  | { state: 'running'; job: V1Job; startedAt?: string }
  | { state: 'succeeded'; job: V1Job; result: JobResult }
  | {
      state: 'failed';
      job: V1Job;
      message: string;
      result?: JobResult;
      /** No readable result (Pod gone, container killed): what the step did is unknown. */
      unreadable?: boolean;
    };

function jobCondition(
  job: V1Job,
  type: string,
): { status: string; reason?: string; message?: string } | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** The newest terminated message of the Job's Pods (a retried Job may have several). */
function podResult(
  job: V1Job,
  pods: readonly V1Pod[],
): { message?: string; reason?: string; exitCode?: number } | undefined {
  const name = job.metadata?.name;
  const mine = pods
    .filter(
      (p) =>
        p.metadata?.labels?.['batch.kubernetes.io/job-name'] === name ||
        p.metadata?.labels?.['job-name'] === name,
    )
    .sort((a, b) =>
      String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')),
    );
  for (const pod of mine) {
    const terminated = pod.status?.containerStatuses?.find((c) => c.name === 'migrator')?.state?.terminated;
    if (terminated)
      return { message: terminated.message, reason: terminated.reason, exitCode: terminated.exitCode };
    const waiting = pod.status?.initContainerStatuses?.find(
      (c) => c.state?.waiting || c.state?.terminated?.exitCode,
    )?.state;
    if (waiting?.terminated && waiting.terminated.exitCode !== 0) {
      return {
        // The check's capture container writes the step's result when it fails (check-pod.ts).
        ...(waiting.terminated.message ? { message: waiting.terminated.message } : {}),
        reason: `init container failed: ${waiting.terminated.reason ?? 'Error'}`,
        exitCode: waiting.terminated.exitCode,
      };
    }
  }
  return undefined;
}

function stringTime(t: Date | string | undefined): string | undefined {
  if (t === undefined) return undefined;
  return t instanceof Date ? t.toISOString() : String(t);
}

export function observeStep(
  jobName: string,
  jobs: readonly V1Job[],
  pods: readonly V1Pod[],
): StepObservation {
  const job = jobs.find((j) => j.metadata?.name === jobName);
  if (!job) return { state: 'absent' };
  const complete =
    jobCondition(job, 'Complete') ?? ((job.status?.succeeded ?? 0) > 0 ? { status: 'True' } : undefined);
  const failed = jobCondition(job, 'Failed');
  if (!complete && !failed) return { state: 'running', job, startedAt: stringTime(job.status?.startTime) };

  const pod = podResult(job, pods);
  const parsed = parseJobResult(pod?.message);
  if (complete) {
    if (parsed.ok && parsed.result.ok) return { state: 'succeeded', job, result: parsed.result };
    // A Job that exited 0 without a valid, successful result is a failure: we
    // never report a step good that did not say so itself.
    const reason = parsed.ok ? (parsed.result.error?.message ?? 'the step reported failure') : parsed.reason;
    return {
      state: 'failed',
      job,
      message: reason,
      ...(parsed.ok ? { result: parsed.result } : { unreadable: true }),
    };
  }
  if (parsed.ok) {
    return {
      state: 'failed',
      job,
      message: parsed.result.error?.message ?? 'the step failed',
      result: parsed.result,
    };
  }
  const jobReason = failed?.reason ? `${failed.reason}: ${failed.message ?? ''}`.trim() : undefined;
  const podReason = pod?.reason
    ? `${pod.reason}${pod.exitCode !== undefined ? ` (exit ${pod.exitCode})` : ''}`
    : undefined;
  return {
    state: 'failed',
    job,
    message: [jobReason, podReason, parsed.reason].filter(Boolean).join('; '),
    unreadable: true,
  };
}
