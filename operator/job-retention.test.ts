import type { V1Job } from '@kubernetes/client-node';
import { jobsToPrune, KEEP_RUNS } from './job-retention.js';

const job = (name: string, generation: number, attempt: number, done = true): V1Job => ({
  metadata: {
    name,
    labels: { 'dbmigrate.io/generation': String(generation), 'dbmigrate.io/attempt': String(attempt) },
  },
  status: done ? { conditions: [{ type: 'Complete', status: 'True' }] } : { active: 1 },
});

describe('jobsToPrune', () => {
  it(`keeps the Jobs of the newest ${KEEP_RUNS} runs (generation, then attempt) and prunes the others`, () => {
    const jobs = [
      job('g1a1-check', 1, 1),
      job('g1a1-migrate', 1, 1),
      job('g1a2-check', 1, 2),
      job('g2a1-check', 2, 1),
      job('g10a1-check', 10, 1),
      job('g3a1-check', 3, 1),
    ];
    expect(jobsToPrune(jobs).sort()).toEqual(['g1a1-check', 'g1a1-migrate', 'g1a2-check']);
    expect(jobsToPrune(jobs, 1).sort()).toEqual([
      'g1a1-check',
      'g1a1-migrate',
      'g1a2-check',
      'g2a1-check',
      'g3a1-check',
    ]);
  });

  it('never prunes a Job still running, nor one without run labels', () => {
    const unlabelled: V1Job = {
      metadata: { name: 'manual' },
      status: { conditions: [{ type: 'Complete', status: 'True' }] },
    };
    const jobs = [
      job('old-running', 1, 1, false),
      unlabelled,
      job('a', 2, 1),
      job('b', 3, 1),
      job('c', 4, 1),
    ];
    expect(jobsToPrune(jobs)).toEqual([]);
    expect(jobsToPrune([...jobs, job('d', 5, 1)])).toEqual(['a']);
  });

  it('prunes nothing with few runs', () => {
    expect(jobsToPrune([job('a', 1, 1), job('b', 1, 2)])).toEqual([]);
    expect(jobsToPrune([])).toEqual([]);
  });
});
