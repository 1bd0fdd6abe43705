import type { V1Job } from '@kubernetes/client-node';
import { latestJob, newestPod } from './jobs.js';

const job = (name: string, step: string, generation: number, attempt: number, created: string): V1Job => ({
  metadata: {
    name,
    creationTimestamp: new Date(created),
    labels: {
      'dbmigrate.io/step': step,
      'dbmigrate.io/generation': String(generation),
      'dbmigrate.io/attempt': String(attempt),
    },
  },
});

describe('latestJob', () => {
  const jobs = [
    job('g1-check', 'check', 1, 1, '2026-01-01T00:00:00Z'),
    job('g1-migrate', 'migrate', 1, 1, '2026-01-01T00:05:00Z'),
    job('g2a1-check', 'check', 2, 1, '2026-01-02T00:00:00Z'),
    job('g2a2-check', 'check', 2, 2, '2026-01-02T01:00:00Z'),
    job('g2a2-backup', 'backup', 2, 2, '2026-01-02T01:01:00Z'),
  ];
  it('takes the newest Job of the latest run without a step', () => {
    expect(latestJob(jobs)).toEqual({ job: 'g2a2-backup', step: 'backup', run: '2.2' });
  });
  it('takes the latest run that has the step (generation, then attempt; not creation order)', () => {
    expect(latestJob(jobs, 'check')).toEqual({ job: 'g2a2-check', step: 'check', run: '2.2' });
    expect(latestJob(jobs, 'migrate')).toEqual({ job: 'g1-migrate', step: 'migrate', run: '1.1' });
    expect(
      latestJob(
        [
          job('g10', 'check', 10, 1, '2026-01-01T00:00:00Z'),
          job('g9', 'check', 9, 1, '2026-01-05T00:00:00Z'),
        ],
        'check',
      )?.job,
    ).toBe('g10');
    expect(latestJob(jobs, 'restore')).toBeUndefined();
  });
});

describe('newestPod', () => {
  it('picks the last Pod the Job created', () => {
    const pod = (name: string, t: string) => ({ metadata: { name, creationTimestamp: new Date(t) } });
    expect(
      newestPod([pod('a', '2026-01-01T00:00:00Z'), pod('b', '2026-01-01T00:01:00Z')])?.metadata?.name,
    ).toBe('b');
    expect(newestPod([])).toBeUndefined();
  });
});
