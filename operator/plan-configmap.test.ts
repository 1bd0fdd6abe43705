import { fullResultFromLog, fullResultLine, type JobResult } from '../crds/job-result.js';
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { DatabaseMigration } from '../crds/database-migration.js';
import {
  notOwnedReason,
  PLAN_CONFIGMAP_MAX_BYTES,
  planConfigMapData,
  planConfigMapName,
  publishResult,
} from './plan-configmap.js';

const run = { uid: 'u1', name: 'shop', generation: 3, attempt: 1 };
const cut: JobResult = {
  step: 'check',
  ok: true,
  startedAt: 't0',
  finishedAt: 't1',
  plan: { pending: ['A1'], hash: 'h', findings: [], notCaptured: [] },
  truncated: true,
};

describe('fullResultFromLog', () => {
  it('takes the last marked line, ignores log lines around it and a cut line', () => {
    const log = [
      '{"level":30,"msg":"migrator starting"}',
      fullResultLine('{"step":"check","n":1}'),
      fullResultLine('{"step":"check","n":2}'),
      '{"level":30,"msg":"result written"}',
    ].join('\n');
    expect(fullResultFromLog(log)).toBe('{"step":"check","n":2}');
    expect(fullResultFromLog(fullResultLine('{"a":1}'))).toBe('{"a":1}');
    expect(fullResultFromLog(`x\n${fullResultLine('{"step":"check"}').slice(0, 30)}`)).toBeUndefined();
    expect(fullResultFromLog('{"level":30}')).toBeUndefined();
  });
});

describe('planConfigMapData', () => {
  it('keeps the other step of the same run, drops a previous run', () => {
    const checked = planConfigMapData(undefined, run, 'check', 'job-c', '{"plan":1}', cut, undefined);
    expect(checked).toEqual({ run: '3.1', 'plan.json': '{"plan":1}' });
    const migrated = planConfigMapData(
      checked,
      run,
      'migrate',
      'job-m',
      '{"applied":1}',
      undefined,
      undefined,
    );
    expect(migrated).toEqual({ run: '3.1', 'plan.json': '{"plan":1}', 'applied.json': '{"applied":1}' });
    const next = planConfigMapData(
      migrated,
      { ...run, attempt: 2 },
      'check',
      'job-c2',
      '{"plan":2}',
      cut,
      undefined,
    );
    expect(next).toEqual({ run: '3.2', 'plan.json': '{"plan":2}' });
  });

  it('without the log, stores the cut result and says why', () => {
    const d = planConfigMapData(undefined, run, 'check', 'job-c', undefined, cut, 'the Pod is gone');
    expect(JSON.parse(d['plan.json'] ?? '')).toEqual(cut);
    expect(d['check.note']).toMatch(/could not be read \(the Pod is gone\).*cut to 4 KiB.*Job job-c/);
  });

  it('is bounded: a larger result is cut, with a note naming the Job whose log has it whole', () => {
    const big = JSON.stringify({ pending: Array.from({ length: 60_000 }, (_, i) => `Migration${i}`) });
    expect(Buffer.byteLength(big)).toBeGreaterThan(PLAN_CONFIGMAP_MAX_BYTES);
    const d = planConfigMapData(undefined, run, 'check', 'job-c', big, cut, undefined);
    const size = Object.entries(d).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    expect(size).toBeLessThanOrEqual(PLAN_CONFIGMAP_MAX_BYTES);
    expect(d['check.note']).toMatch(/^Truncated: \d+ of \d+ bytes kept.*kubectl logs job\/job-c/);
  });
});

describe('planConfigMapName', () => {
  it('is <resource>-plan, shortened to a valid name for a long resource name', () => {
    expect(planConfigMapName('shop')).toBe('shop-plan');
    const long = planConfigMapName('a'.repeat(253));
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^a+-[0-9a-f]{8}-plan$/);
  });
});

describe('publishResult: only a ConfigMap the resource owns', () => {
  const dm = {
    apiVersion: 'dbmigrate.io/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name: 'shop', namespace: 'apps', uid: 'uid-1', generation: 1 },
    spec: {},
  } as unknown as DatabaseMigration;
  const ours: V1ConfigMap = {
    metadata: {
      name: 'shop-plan',
      labels: { 'app.kubernetes.io/managed-by': 'database-migration-operator' },
      ownerReferences: [
        {
          apiVersion: 'dbmigrate.io/v1alpha1',
          kind: 'DatabaseMigration',
          name: 'shop',
          uid: 'uid-1',
          controller: true,
        },
      ],
      resourceVersion: '7',
    },
    data: { run: '1.1' },
  };
  const logger = pino({ level: 'silent' });
  const fakeCore = (existing: V1ConfigMap | undefined) => {
    const writes: string[] = [];
    const core = {
      listNamespacedPod: async () => {
        writes.push('read the log');
        return { items: [] };
      },
      readNamespacedConfigMap: async () => {
        if (existing) return existing;
        throw Object.assign(new Error('not found'), { code: 404 });
      },
      replaceNamespacedConfigMap: async () => writes.push('replace'),
      createNamespacedConfigMap: async () => writes.push('create'),
    } as unknown as CoreV1Api;
    return { core, writes };
  };
  const intent = {
    step: 'check' as const,
    job: 'shop-1-1-check',
    run: { uid: 'uid-1', name: 'shop', generation: 1, attempt: 1 },
  };

  it('creates it, and updates the one it owns', async () => {
    for (const [existing, write] of [
      [undefined, 'create'],
      [ours, 'replace'],
    ] as const) {
      const { core, writes } = fakeCore(existing);
      expect(await publishResult(core, dm, intent, logger)).toEqual({ written: true });
      expect(writes).toEqual(['read the log', write]);
    }
  });

  it("refuses to overwrite anyone else's, naming it", async () => {
    const foreign: V1ConfigMap[] = [
      { metadata: { name: 'shop-plan' }, data: { important: 'yes' } },
      {
        metadata: {
          ...ours.metadata,
          ownerReferences: [{ ...ours.metadata!.ownerReferences![0]!, uid: 'uid-other' }],
        },
      },
      { metadata: { ...ours.metadata, labels: {} } },
    ];
    for (const existing of foreign) {
      const { core, writes } = fakeCore(existing);
      const outcome = await publishResult(core, dm, intent, logger);
      expect(outcome).toMatchObject({ written: false, configMap: 'shop-plan' });
      expect(!outcome.written && outcome.reason).toContain('ConfigMap shop-plan');
      // Neither written nor the log read for it.
      expect(writes).toEqual([]);
    }
    expect(notOwnedReason(ours, dm)).toBeUndefined();
  });
});
