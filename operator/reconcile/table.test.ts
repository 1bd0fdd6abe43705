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
