// The transition table: every (phase, outcome) pair has a row, every row leads
// only to the phases it declares, and docs/state-machine.md is the table's own.
import { readFileSync } from 'node:fs';
import { DatabaseMigrationSpec, type DatabaseMigrationStatus } from '../../crds/database-migration.js';
import type { JobResult } from '../../crds/job-result.js';
import { ACTIVE_PHASES, STEP_OF_PHASE } from '../phases.js';
import type { Ctx, ReconcileOutput } from './context.js';
import { renderStateMachine } from './diagram.js';
import { carryOut } from './intents.js';
import type { Seen } from './row.js';
import { OUTCOMES, TRANSITIONS } from './table.js';

const baseSpec = {
  database: { host: 'pg', database: 'shop', user: 'app', passwordSecretRef: { name: 'db', key: 'password' } },
  migrations: { image: 'shop:2', path: '/app/dist/migrations' },
  backup: { pvcName: 'backups' },
};

const results: Array<Partial<JobResult> | undefined> = [
  undefined,
  { ok: true, migrations: [], plan: { pending: [], hash: 'h', findings: [], notCaptured: [] } },
  {
    ok: true,
    migrations: [{ name: 'A1', durationMs: 1, outcome: 'applied' }],
    plan: { pending: ['A1'], hash: 'h', findings: [], notCaptured: [] },
    backup: {
      path: '/b/x',
      format: 'custom',
      sizeBytes: 1,
      sha256: 'a'.repeat(64),
      verified: true,
    } as JobResult['backup'],
    verify: { pending: [], problems: [] },
  },
  {
    ok: false,
    error: { message: 'boom', migration: 'B2' },
    migrations: [{ name: 'A1', durationMs: 1, outcome: 'applied' }],
    verify: { pending: ['B2'], problems: [] },
  },
];

function ctxFor(phase: (typeof ACTIVE_PHASES)[number], specExtra: object, inspecting: boolean): Ctx {
  const spec = DatabaseMigrationSpec.parse({ ...baseSpec, ...specExtra });
  const status: DatabaseMigrationStatus = {
    phase,
    observedGeneration: 1,
    attempt: 1,
    jobs: {},
    backup: { path: '/b/x', format: 'custom', sizeBytes: 1, sha256: 'a'.repeat(64), verified: true },
    plan: {
      pending: ['A1', 'B2'],
      hash: 'h',
      findings: [],
      blocking: [],
      pendingCount: 2,
      findingsCount: 0,
      blockingCount: 0,
    },
    ...(inspecting ? { inspection: { after: STEP_OF_PHASE[phase], reason: 'gone', startedAt: 'x' } } : {}),
  } as DatabaseMigrationStatus;
  const out: ReconcileOutput = { status, actions: [], holdsTarget: true, stepsFinished: [] };
  return {
    dm: { metadata: { name: 'shop', namespace: 'apps', uid: 'u', generation: 1 } } as Ctx['dm'],
    spec,
    run: { uid: 'u', name: 'shop', generation: 1, attempt: 1 },
    now: '2026-12-07T00:00:00Z',
    status,
    out,
    input: {
      dm: {} as Ctx['dm'],
      jobs: [],
      pods: [],
      now: new Date(),
      config: { migratorImage: 'm', imagePullPolicy: 'IfNotPresent' },
    },
  };
}

describe('the transition table', () => {
  const specs = [
    {},
    { onFailure: 'revert' },
    { onFailure: 'restore', restoreWorkloads: [{ kind: 'Deployment', name: 'app' }] },
    { onFailure: 'restore', migrations: { ...baseSpec.migrations, transactionMode: 'none' } },
    { rollback: { steps: 1 } },
    { backup: { enabled: false } },
  ];
  for (const phase of ACTIVE_PHASES)
    for (const outcome of OUTCOMES)
      it(`${phase} × ${outcome}: the row leads only to the phases it declares`, () => {
        const row = TRANSITIONS[phase][outcome];
        expect(row.name).toMatch(/^[a-z][A-Za-z]+$/);
        for (const extra of specs)
          for (const result of results) {
            const ctx = ctxFor(phase, extra, outcome === 'inspected');
            const seen: Seen = {
              step: STEP_OF_PHASE[phase],
              message: 'Job failed',
              ...(result
                ? { result: { step: 'migrate', startedAt: 'a', finishedAt: 'b', ...result } as JobResult }
                : {}),
            };
            carryOut(ctx, row.decide(ctx, seen));
            expect([phase, ...row.next]).toContain(ctx.status.phase);
          }
      });

  it('docs/state-machine.md is generated from it (npm run docs:states)', () => {
    const doc = readFileSync(new URL('../../docs/state-machine.md', import.meta.url), 'utf8');
    expect(doc).toBe(renderStateMachine());
  });
});

describe('BackingUp: a backup too large to prove', () => {
  const backup = {
    path: '/b/x',
    format: 'custom',
    sizeBytes: 1,
    sha256: 'a'.repeat(64),
    verified: false,
    verifiedBy: 'list',
  } as NonNullable<JobResult['backup']>;
  const seenWith = (b: NonNullable<JobResult['backup']>): Seen => ({
    step: 'backup',
    message: 'Job succeeded',
    result: { step: 'backup', ok: true, startedAt: 'a', finishedAt: 'b', backup: b } as JobResult,
  });

  it('goes on to migrate with a BackupUnproven condition and a Warning event', () => {
    const ctx = ctxFor('BackingUp', {}, false);
    const note = 'not restored to prove it: the database is 12.0 GiB, above the cap';
    carryOut(
      ctx,
      TRANSITIONS.BackingUp.succeeded.decide(
        ctx,
        seenWith({ ...backup, unproven: 'tooLarge', verifyNote: note }),
      ),
    );
    expect(ctx.status.phase).toBe('Migrating');
    expect(ctx.status.conditions?.find((c) => c.type === 'BackupUnproven')).toMatchObject({
      status: 'True',
      reason: 'TooLargeToProve',
      message: `Backup /b/x was not proven by a test restore: ${note}`,
    });
    expect(ctx.out.actions).toContainEqual({
      kind: 'event',
      type: 'Warning',
      reason: 'BackupUnproven',
      message: `Backup /b/x was not proven by a test restore: ${note}`,
    });
  });

  it('any other unverified backup still fails the run', () => {
    const ctx = ctxFor('BackingUp', {}, false);
    carryOut(ctx, TRANSITIONS.BackingUp.succeeded.decide(ctx, seenWith(backup)));
    expect(ctx.status.phase).toBe('Failed');
    expect(ctx.status.conditions?.find((c) => c.type === 'BackupUnproven')).toBeUndefined();
  });
});

describe('Checking: the rehearsal becomes the expected durations and the ETA', () => {
  const plan = {
    pending: ['A1', 'B2'],
    hash: 'h',
    findings: [],
    notCaptured: [],
    rehearsal: { onData: true, sizeBytes: 10, durationsMs: { A1: 1500, B2: 500 }, totalMs: 2000 },
  };
  const result = { step: 'check', ok: true, startedAt: 'a', finishedAt: 'b', plan } as JobResult;

  it('records plan.rehearsal, and expectedMigratedBy when the migrate step starts', () => {
    const ctx = ctxFor('Checking', { backup: { enabled: false } }, false);
    carryOut(ctx, TRANSITIONS.Checking.succeeded.decide(ctx, { step: 'check', message: 'ok', result }));
    expect(ctx.status.plan?.rehearsal).toEqual({
      onData: true,
      totalMs: 2000,
      expectedDurationsMs: { A1: 1500, B2: 500 },
    });
    expect(ctx.status.phase).toBe('Migrating');
    expect(ctx.status.expectedMigratedBy).toBe('2026-12-07T00:00:02.000Z');
  });

  it('a rehearsal-failed finding blocks by default', () => {
    const ctx = ctxFor('Checking', {}, false);
    const failed = {
      ...result,
      plan: {
        ...plan,
        findings: [
          {
            rule: 'rehearsal-failed',
            category: 'rehearsal',
            severity: 'error',
            migration: 'B2',
            message: "fails on a copy of the target's rows (23514): check constraint violated by some row",
          },
        ],
      },
    } as JobResult;
    carryOut(
      ctx,
      TRANSITIONS.Checking.succeeded.decide(ctx, { step: 'check', message: 'ok', result: failed }),
    );
    expect(ctx.status.phase).toBe('Blocked');
    expect(ctx.status.plan?.blocking).toEqual(['B2: rehearsal-failed']);
  });
});
