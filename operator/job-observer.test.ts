import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { observeStep } from './job-observer.js';

const JOB = 'shop-1-1-migrate';

function job(conditions: { type: string }[] = [], backoffLimit = 0): V1Job {
  return {
    metadata: { name: JOB, namespace: 'apps' },
    spec: { backoffLimit, template: {} },
    status: { conditions: conditions.map((c) => ({ ...c, status: 'True' })) },
  } as V1Job;
}

function pod(terminated?: { exitCode: number; message?: string }): V1Pod {
  return {
    metadata: { name: `${JOB}-abcde`, labels: { 'batch.kubernetes.io/job-name': JOB } },
    status: {
      containerStatuses: [
        {
          name: 'migrator',
          image: 'm',
          imageID: '',
          ready: !terminated,
          restartCount: 0,
          state: terminated ? { terminated } : { running: {} },
        },
      ],
    },
  } as V1Pod;
}

const result = (ok: boolean) =>
  JSON.stringify({
    step: 'migrate',
    ok,
    startedAt: '2026-12-07T00:00:00Z',
    finishedAt: '2026-12-07T00:00:02Z',
    ...(ok ? {} : { error: { message: 'relation "x" already exists' } }),
  });

describe('observeStep: acting on the container as it ends', () => {
  it('a Job whose container still runs is running', () => {
    expect(observeStep(JOB, [job()], [pod()]).state).toBe('running');
  });

  it('exit 0 with a valid ok result is succeeded before the Job controller marks it Complete', () => {
    const obs = observeStep(JOB, [job()], [pod({ exitCode: 0, message: result(true) })]);
    expect(obs.state).toBe('succeeded');
  });

  it('exit 0 with a cut or missing result waits for the Job (never succeeded on a guess)', () => {
    const cut = result(true).slice(0, 30);
    expect(observeStep(JOB, [job()], [pod({ exitCode: 0, message: cut })]).state).toBe('running');
    expect(observeStep(JOB, [job()], [pod({ exitCode: 0 })]).state).toBe('running');
    // Once Complete, the missing result is a failure as before.
    expect(observeStep(JOB, [job([{ type: 'Complete' }])], [pod({ exitCode: 0 })]).state).toBe('failed');
  });

  it('a failure with its result is failed at once when the Job will not retry, and waits when it may', () => {
    const failedPod = pod({ exitCode: 1, message: result(false) });
    const now = observeStep(JOB, [job([], 0)], [failedPod]);
    expect(now.state).toBe('failed');
    expect(now.state === 'failed' && now.message).toMatch(/already exists/);
    expect(observeStep(JOB, [job([], 2)], [failedPod]).state).toBe('running');
  });

  it('exit 0 with a result saying not ok waits for the Job rather than deciding early', () => {
    expect(observeStep(JOB, [job()], [pod({ exitCode: 0, message: result(false) })]).state).toBe('running');
  });
});
