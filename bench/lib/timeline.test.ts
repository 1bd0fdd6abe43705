import type { V1Pod } from '@kubernetes/client-node';
import { timeline } from './timeline.js';

const pod = (
  uid: string,
  step: string,
  init: [string, 'running' | 'terminated' | 'waiting'][],
  main: [string, 'running' | 'terminated' | 'waiting'][],
): V1Pod => {
  const st = ([name, s]: [string, string]) => ({
    name,
    image: 'i',
    imageID: '',
    ready: false,
    restartCount: 0,
    state: { [s]: s === 'terminated' ? { exitCode: 0 } : {} },
  });
  return {
    metadata: { uid, labels: { 'dbmigrate.io/name': 'run-1', 'dbmigrate.io/step': step } },
    status: { initContainerStatuses: init.map(st), containerStatuses: main.map(st) },
  } as V1Pod;
};

describe('bench timeline', () => {
  it('splits a run into the gaps before Pods, Pod start, kubelet gaps and each container, summing to the wall time', () => {
    const tl = timeline();
    // t0 = 0: the check Pod appears at 300, its capture runs 500-1500, check 1600-4000.
    tl.observe(pod('a', 'check', [['capture', 'waiting']], [['migrator', 'waiting']]), 300);
    tl.observe(pod('a', 'check', [['capture', 'running']], [['migrator', 'waiting']]), 500);
    tl.observe(pod('a', 'check', [['capture', 'terminated']], [['migrator', 'waiting']]), 1500);
    tl.observe(pod('a', 'check', [['capture', 'terminated']], [['migrator', 'running']]), 1600);
    tl.observe(pod('a', 'check', [['capture', 'terminated']], [['migrator', 'terminated']]), 4000);
    // The migrate Pod: 4700, runs 5000-6000; done seen at 6500.
    tl.observe(pod('b', 'migrate', [], [['migrator', 'waiting']]), 4700);
    tl.observe(pod('b', 'migrate', [], [['migrator', 'running']]), 5000);
    tl.observe(pod('b', 'migrate', [], [['migrator', 'terminated']]), 6000);
    const p = tl.phases('run-1', 0, 6500);
    expect(p).toEqual({
      'before each Pod (operator, Job controller)': 300 + 700,
      'Pod start (scheduling, sandbox, image)': 200 + 300,
      'check: capture': 1000,
      'between containers (kubelet)': 100,
      'check: migrator': 2400,
      'migrate: migrator': 1000,
      'after the last Pod (operator to done)': 500,
    });
    expect(Object.values(p).reduce((a, b) => a + b, 0)).toBe(6500);
    expect(tl.phases('another', 0, 10)).toEqual({ 'after the last Pod (operator to done)': 10 });
  });
});
