import type { V1Pod } from '@kubernetes/client-node';
import { progressLine } from '../crds/job-result.js';
import { progressFromLog, progressMessage, runningPodOf } from './migrate-progress.js';

const pino = (msg: string, extra = '') =>
  `{"level":30,"time":"2026-12-03T06:00:00.000Z","component":"migrator"${extra},"msg":"${msg}"}`;

describe('progressFromLog', () => {
  it('takes the last progress line among the pino lines', () => {
    const log = [
      pino('the pending migrations are the checked ones'),
      progressLine({ applied: 0, total: 3, current: 'CreateUsers1700000000001' }),
      pino('applying migration', ',"migration":"CreateUsers1700000000001"'),
      pino('migration applied', ',"migration":"CreateUsers1700000000001","durationMs":12'),
      progressLine({ applied: 1, total: 3, current: 'AddIndex1700000000002' }),
      pino('applying migration', ',"migration":"AddIndex1700000000002"'),
      '',
    ].join('\n');
    expect(progressFromLog(log)).toEqual({ applied: 1, total: 3, current: 'AddIndex1700000000002' });
  });

  it('reads the final line (no current) and a log without a trailing newline', () => {
    const log = `${progressLine({ applied: 2, total: 3, current: 'X3' })}\n${progressLine({ applied: 3, total: 3 })}`;
    expect(progressFromLog(log)).toEqual({ applied: 3, total: 3 });
  });

  it('skips a line cut by the byte bound or breaking the contract, and finds an earlier one', () => {
    const good = progressLine({ applied: 0, total: 2, current: 'A1' });
    expect(progressFromLog(`${good}\n{"dbmigrateProgress":{"applied":1,"tot`)).toEqual({
      applied: 0,
      total: 2,
      current: 'A1',
    });
    expect(progressFromLog(`${good}\n{"dbmigrateProgress":{"applied":"1","total":2}}`)).toEqual({
      applied: 0,
      total: 2,
      current: 'A1',
    });
    expect(progressFromLog(`${good}\n{"dbmigrateProgress":{"applied":3,"total":2}}`)).toEqual({
      applied: 0,
      total: 2,
      current: 'A1',
    });
  });

  it('is undefined for a log without progress, or with the key only inside another line', () => {
    expect(progressFromLog('')).toBeUndefined();
    expect(progressFromLog(pino('applying migration'))).toBeUndefined();
    expect(
      progressFromLog(pino('x', ',"note":"{\\"dbmigrateProgress\\":{\\"applied\\":1,\\"total\\":2}}"')),
    ).toBeUndefined();
  });
});

describe('progressMessage', () => {
  it('says which migration of how many runs, then how many were applied', () => {
    expect(progressMessage({ applied: 1, total: 5, current: 'AddIndex1700000' })).toBe(
      '2/5: AddIndex1700000',
    );
    expect(progressMessage({ applied: 5, total: 5 })).toBe('5/5 applied');
    expect(progressMessage({ applied: 0, total: 0 })).toBe('0/0 applied');
  });

  it('cuts a very long name (the whole one stays in status.progress.current)', () => {
    const m = progressMessage({ applied: 0, total: 1, current: 'N'.repeat(300) });
    expect(m.length).toBeLessThan(100);
    expect(m.endsWith('…')).toBe(true);
  });
});

describe('runningPodOf', () => {
  const pod = (name: string, job: string, phase: string, created: string, deleting = false): V1Pod => ({
    metadata: {
      name,
      labels: { 'batch.kubernetes.io/job-name': job },
      creationTimestamp: new Date(created),
      ...(deleting ? { deletionTimestamp: new Date(created) } : {}),
    },
    status: { phase },
  });

  it("picks the newest running Pod of the Job, never another Job's or a finished one", () => {
    const pods = [
      pod('a', 'shop-migrate', 'Failed', '2026-12-03T06:00:00Z'),
      pod('b', 'shop-migrate', 'Running', '2026-12-03T06:01:00Z'),
      pod('c', 'shop-migrate', 'Running', '2026-12-03T06:02:00Z', true),
      pod('d', 'shop-check', 'Running', '2026-12-03T06:03:00Z'),
    ];
    expect(runningPodOf('shop-migrate', pods)?.metadata?.name).toBe('b');
    expect(runningPodOf('shop-backup', pods)).toBeUndefined();
  });
});
