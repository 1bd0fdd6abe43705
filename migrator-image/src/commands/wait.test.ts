import { evaluate, progressKey, waitOptions } from './wait.js';
import type { Condition, DatabaseMigrationStatus } from '../../../crds/database-migration.js';

const c = (
  type: string,
  status: Condition['status'],
  reason = 'R',
  message = 'm',
  gen?: number,
): Condition => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
  ...(gen === undefined ? {} : { observedGeneration: gen }),
});
const dm = (generation: number, status?: DatabaseMigrationStatus) => ({
  metadata: { name: 'x', namespace: 'ns', uid: 'u', generation },
  status,
});

describe('wait: evaluate', () => {
  it('with an expected image, waits while the resource migrates another image, then reads its run', () => {
    const ready = { observedGeneration: 3, phase: 'Succeeded' as const, conditions: [c('Ready', 'True')] };
    const of = (image: string) => ({ ...dm(3, ready), spec: { migrations: { image } } });
    expect(evaluate(of('app:1'), 'app:2')).toMatchObject({
      kind: 'waiting',
      message: expect.stringContaining('spec.migrations.image is app:1, waiting for a run of app:2'),
    });
    expect(evaluate(of('app:2'), 'app:2').kind).toBe('ready');
    expect(evaluate(of('app:1')).kind).toBe('ready');
    // The live spec says app:2, but the Ready status is of a run of app:1 (its frozen spec): not ours.
    const ranOld = {
      ...dm(3, {
        ...ready,
        run: { generation: 3, attempt: 1, startedAt: 'x', spec: { migrations: { image: 'app:1' } } },
      }),
      spec: { migrations: { image: 'app:2' } },
    } as Parameters<typeof evaluate>[0];
    expect(evaluate(ranOld, 'app:2')).toMatchObject({
      kind: 'waiting',
      message: 'the last run was of app:1, waiting for a run of app:2',
    });
    expect(waitOptions({ DBM_NAME: 'x', DBM_NAMESPACE: 'ns', DBM_EXPECT_IMAGE: ' app:2 ' }).expectImage).toBe(
      'app:2',
    );
  });

  it('waits while there is no status or an older generation', () => {
    expect(evaluate(dm(1)).kind).toBe('waiting');
    expect(
      evaluate(dm(2, { observedGeneration: 1, phase: 'Succeeded', conditions: [c('Ready', 'True')] })).kind,
    ).toBe('waiting');
  });
  it('is ready on Ready=True for the current generation', () => {
    expect(
      evaluate(
        dm(2, {
          observedGeneration: 2,
          phase: 'Succeeded',
          conditions: [c('Ready', 'True', 'Succeeded', 'ok', 2)],
        }),
      ),
    ).toMatchObject({ kind: 'ready', phase: 'Succeeded' });
  });
  it('ignores a Ready=True stamped with an older generation', () => {
    expect(
      evaluate(
        dm(2, { observedGeneration: 2, phase: 'Checking', conditions: [c('Ready', 'True', 'S', 'ok', 1)] }),
      ).kind,
    ).toBe('waiting');
  });
  it('fails on Stalled=True with its reason and message', () => {
    expect(
      evaluate(
        dm(3, {
          observedGeneration: 3,
          phase: 'Failed',
          conditions: [
            c('Ready', 'False'),
            c('Stalled', 'True', 'MigrationFailed', 'relation "x" exists', 3),
          ],
        }),
      ),
    ).toEqual({ kind: 'failed', phase: 'Failed', reason: 'MigrationFailed', message: 'relation "x" exists' });
  });
  it.each(['Failed', 'Blocked', 'RolledBack', 'Restored'] as const)('fails on phase %s', (phase) => {
    expect(
      evaluate(dm(1, { observedGeneration: 1, phase, lastError: { step: 'migrate', message: 'boom' } })),
    ).toMatchObject({ kind: 'failed', reason: phase, message: 'boom' });
  });
  it('keeps waiting while in progress', () => {
    expect(
      evaluate(
        dm(1, {
          observedGeneration: 1,
          phase: 'Migrating',
          conditions: [c('Reconciling', 'True', 'Migrating', 'applying')],
        }),
      ),
    ).toEqual({ kind: 'waiting', phase: 'Migrating', message: 'applying' });
  });
});

describe('wait: progressKey and options', () => {
  it('changes with the phase and condition messages only', () => {
    const a = dm(1, {
      observedGeneration: 1,
      phase: 'Checking',
      conditions: [c('Reconciling', 'True', 'R', 'a')],
    });
    const b = dm(1, {
      observedGeneration: 1,
      phase: 'Checking',
      conditions: [c('Reconciling', 'True', 'R', 'b')],
    });
    expect(progressKey(a)).not.toBe(progressKey(b));
    expect(progressKey(a)).toBe(progressKey(structuredClone(a)));
    expect(progressKey(undefined)).toBe('absent');
  });
  it('reads the environment', () => {
    expect(waitOptions({ DBM_NAME: 'm', DBM_NAMESPACE: 'ns' })).toEqual({
      name: 'm',
      namespace: 'ns',
      saDir: '/var/run/secrets/kubernetes.io/serviceaccount',
      timeoutSeconds: 1800,
      pollSeconds: 2,
    });
    expect(() => waitOptions({ DBM_NAMESPACE: 'ns' })).toThrow(/DBM_NAME/);
    expect(() => waitOptions({ DBM_NAME: 'm', DBM_NAMESPACE: 'ns', WAIT_TIMEOUT_SECONDS: 'x' })).toThrow(
      /WAIT_TIMEOUT/,
    );
  });
});
