import type { DatabaseMigration } from '../crds/database-migration.js';
import type { Finding, JobResult } from '../crds/job-result.js';
import { historyText, historyView, planText, planView, statusRows, statusText } from './views.js';

const drop: Finding = {
  rule: 'drop-column',
  category: 'destructive',
  severity: 'error',
  migration: 'DropLegacy1700000000002',
  message: 'drops column products.legacy_code',
  hint: 'stop reading it first, drop it in a later release',
  statement: 0,
};
const lock: Finding = {
  ...drop,
  rule: 'add-index',
  category: 'locking',
  severity: 'warning',
  message: 'builds an index without CONCURRENTLY',
};
const HASH = 'c'.repeat(64);

function dm(
  overrides: Partial<DatabaseMigration['status']> = {},
  spec: Record<string, unknown> = {},
): DatabaseMigration {
  return {
    apiVersion: 'dbmigrate.io/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: {
      name: 'orders',
      namespace: 'shop',
      uid: 'u',
      generation: 1,
      creationTimestamp: '2026-01-10T11:55:00Z',
    },
    spec: {
      database: { host: 'pg', database: 'orders', user: 'app', passwordSecretRef: { name: 's', key: 'p' } },
      migrations: { image: 'app:1' },
      backup: { enabled: false },
      ...spec,
    } as unknown as DatabaseMigration['spec'],
    status: {
      phase: 'Blocked',
      target: 'pg:5432/orders',
      conditions: [
        { type: 'Ready', status: 'False', reason: 'PlanBlocked', message: 'Blocked', lastTransitionTime: '' },
        {
          type: 'Stalled',
          status: 'True',
          reason: 'PlanBlocked',
          message: 'Blocked by ...',
          lastTransitionTime: '',
        },
      ],
      plan: {
        pending: ['DropLegacy1700000000002'],
        hash: HASH,
        findings: [drop],
        blocking: ['x'],
        blockingCount: 1,
      },
      ...overrides,
    },
  };
}

const fullResult: JobResult = {
  step: 'check',
  ok: true,
  startedAt: '',
  finishedAt: '',
  plan: {
    pending: ['AddIndex1700000000001', 'DropLegacy1700000000002'],
    hash: HASH,
    findings: [lock, drop],
    notCaptured: [],
    revertFindings: [{ ...drop, rule: 'drop-index', message: 'the down() drops index i' }],
    checksums: { AddIndex1700000000001: 'ab'.repeat(32) },
    shadow: {
      targetVersion: '16.4',
      shadowMajor: 18,
      schemaErrors: [],
      schemaErrorCount: 0,
      statementsTraced: 7,
      reversibility: 'proven',
      durationMs: 1520,
    },
  },
};

describe('statusRows / statusText', () => {
  it('shows ready, phase, applied, blocking and the reason that needs a human', () => {
    const rows = statusRows([dm({ appliedCount: 3 })], new Date('2026-01-10T12:00:00Z'));
    expect(rows[0]).toMatchObject({
      name: 'orders',
      ready: 'False',
      phase: 'Blocked',
      applied: 3,
      blocking: 1,
      reason: 'PlanBlocked',
      age: '5m',
    });
    expect(statusText(rows, false).split('\n')[0]).toBe(
      'NAME     READY   PHASE     APPLIED   BLOCKING   PROGRESS   REASON        AGE',
    );
    expect(statusText(rows, true).startsWith('NAMESPACE   NAME')).toBe(true);
    expect(statusText([], false)).toBe('No DatabaseMigrations found.\n');
  });

  it("shows the migrate step's live progress", () => {
    const migrating = dm({
      phase: 'Migrating',
      progress: { applied: 1, total: 3, current: 'B2', message: '2/3: B2' },
    });
    const rows = statusRows([migrating], new Date('2026-01-10T12:00:00Z'));
    expect(rows[0]?.progress).toBe('2/3: B2');
    expect(statusText(rows, false).split('\n')[1]).toMatch(/Migrating\s+.*2\/3: B2/);
  });
});

describe('planView / planText', () => {
  it('reads the full plan from the ConfigMap and marks the findings spec.safety.block blocks', () => {
    const v = planView(dm(), 'orders-plan', { run: '1.1', 'plan.json': JSON.stringify(fullResult) });
    expect(v.problem).toBeUndefined();
    expect(v.blockingCategories).toEqual(['destructive', 'dataLoss', 'rehearsal']);
    expect(v.blocking).toEqual([drop]);
    const text = planText(v);
    expect(text).toContain(`Hash: ${HASH}`);
    expect(text).toContain(
      'Pending migrations (2):\n  AddIndex1700000000001  sha256:abababababababab\n  DropLegacy1700000000002\n',
    );
    expect(text).toContain(
      '  BLOCKING [error] destructive/drop-column in DropLegacy1700000000002 (statement 0): drops column',
    );
    expect(text).toContain('      hint: stop reading it first');
    expect(text).toMatch(/\n {2}\[warning\] locking\/add-index/);
    expect(text).toContain('Revert findings (what a revert would do; never blocking) (1):');
    expect(text).toContain(
      'Shadow trace: 7 statements traced on PostgreSQL 18 (target 16.4) in 1.5s; reversibility proven',
    );
  });

  it('blocks irreversible findings when onFailure is revert, as the reconciler does', () => {
    const v = planView(dm({}, { onFailure: 'revert' }), 'orders-plan', undefined);
    expect(v.blockingCategories).toContain('irreversible');
  });

  it('falls back to the short plan of the status, saying why', () => {
    const none = planView(dm(), 'orders-plan', undefined);
    expect(none.problem).toMatch(/ConfigMap orders-plan is not there/);
    expect(none.plan?.pending).toEqual(['DropLegacy1700000000002']);
    const cut = planView(dm(), 'orders-plan', {
      'plan.json': '{"plan":{"pend',
      'check.note': 'Truncated: 10 of 2000000 bytes kept',
    });
    expect(cut.problem).toMatch(/not complete JSON/);
    expect(planText(cut)).toContain('Note: Truncated: 10 of 2000000 bytes kept');
  });

  it('says whether the approval is this plan', () => {
    expect(planText(planView(dm({}, { safety: { approval: HASH } }), 'p', undefined))).toContain(
      'Approved: yes',
    );
    expect(planText(planView(dm({}, { safety: { approval: 'd'.repeat(64) } }), 'p', undefined))).toContain(
      'Approved: no',
    );
    expect(planText(planView(dm({ plan: undefined }), 'p', undefined))).toContain('No plan yet');
  });
});

describe('historyView / historyText', () => {
  it('lists the runs and the applied migrations of the ConfigMap', () => {
    const d = dm({
      // The status keeps the newest run first; the history reads oldest first.
      history: [
        {
          generation: 2,
          attempt: 1,
          phase: 'Succeeded',
          startedAt: '2026-01-10T11:58:00Z',
          completedAt: '2026-01-10T11:59:05Z',
        },
        {
          generation: 1,
          attempt: 1,
          phase: 'Blocked',
          startedAt: '2026-01-10T11:56:00Z',
          completedAt: '2026-01-10T11:56:02Z',
        },
      ],
    });
    const v = historyView(d, {
      run: '2.1',
      'applied.json': JSON.stringify({
        migrations: [
          { name: 'AddIndex1700000000001', durationMs: 41, outcome: 'applied', checksum: 'ab'.repeat(32) },
        ],
      }),
    });
    const text = historyText(v, new Date('2026-01-10T12:00:00Z'));
    expect(text).toContain('1.1   Blocked     4m ago    2.0s');
    expect(text).toContain('2.1   Succeeded   2m ago    1m5s');
    expect(text.indexOf('1.1   Blocked')).toBeLessThan(text.indexOf('2.1   Succeeded'));
    expect(text).toContain('Migrations of the last run (2.1):');
    expect(text).toContain('AddIndex1700000000001   applied   41ms       abababababababab');
  });

  it('uses the status list when the ConfigMap has none', () => {
    const v = historyView(dm({ applied: [{ name: 'A1', durationMs: 5 }] }), undefined);
    expect(v.applied).toMatchObject({ migrations: [{ name: 'A1', outcome: 'applied' }] });
    expect(historyText(v)).toContain('No finished runs yet.');
  });
});
