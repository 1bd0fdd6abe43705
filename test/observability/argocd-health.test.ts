// docs/argocd-health.lua, run by a real Lua 5.1 interpreter (Argo CD runs its
// health checks in gopher-lua, a Lua 5.1) on DatabaseMigration objects in each
// state. Needs Debian's `lua5.1` package (scripts/install-system-deps.sh).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../chart/tools.js';

const SCRIPT = readFileSync(join(REPO_ROOT, 'docs', 'argocd-health.lua'), 'utf8');

/** JSON value -> Lua table constructor. */
function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${toLua(x)}`)
    .join(', ')}}`;
}

function health(obj: unknown): { status: string; message: string } {
  const program = `obj = ${toLua(obj)}\nlocal function check()\n${SCRIPT}\nend\nlocal hs = check()\nio.write(hs.status, "\\n", hs.message)\n`;
  const r = spawnSync('lua5.1', ['-'], { input: program, encoding: 'utf8', timeout: 30_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      "lua5.1 not found: install Debian's `lua5.1` package (bash scripts/install-system-deps.sh)",
    );
  }
  if (r.status !== 0) throw new Error(`lua5.1 failed: ${r.stderr}`);
  const [status = '', ...rest] = r.stdout.split('\n');
  return { status, message: rest.join('\n') };
}

const cond = (type: string, status: string, reason = 'R', message = `${type} ${status}`) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});
const dbm = (status?: Record<string, unknown>, generation = 2) => ({
  apiVersion: 'dbmigrate.io/v1alpha1',
  kind: 'DatabaseMigration',
  metadata: { name: 'orders', namespace: 'shop', generation },
  spec: {},
  ...(status ? { status } : {}),
});

describe('Argo CD health check (docs/argocd-health.lua)', () => {
  it('a brand-new resource is Progressing', () => {
    expect(health(dbm()).status).toBe('Progressing');
  });

  it('a status of an older generation is Progressing, even if it was Ready', () => {
    const h = health(dbm({ observedGeneration: 1, phase: 'Succeeded', conditions: [cond('Ready', 'True')] }));
    expect(h).toEqual({ status: 'Progressing', message: 'Waiting for the operator to observe generation 2' });
  });

  it('a run in progress is Progressing with the Reconciling message', () => {
    const h = health(
      dbm({
        observedGeneration: 2,
        phase: 'Migrating',
        conditions: [
          cond('Reconciling', 'True', 'Migrating', 'applying 3 migrations'),
          cond('Ready', 'False'),
        ],
      }),
    );
    expect(h).toEqual({ status: 'Progressing', message: 'Migrating: applying 3 migrations' });
  });

  it('Ready=True is Healthy', () => {
    const h = health(
      dbm({
        observedGeneration: 2,
        phase: 'Succeeded',
        conditions: [
          cond('Ready', 'True', 'Succeeded', '3 migrations applied'),
          cond('Reconciling', 'False'),
        ],
      }),
    );
    expect(h).toEqual({ status: 'Healthy', message: 'Succeeded: 3 migrations applied' });
  });

  it('Stalled=True is Degraded with its reason', () => {
    const h = health(
      dbm({
        observedGeneration: 2,
        phase: 'Failed',
        conditions: [
          cond('Stalled', 'True', 'InvalidSpec', 'spec.database.port: too big'),
          cond('Ready', 'False'),
        ],
      }),
    );
    expect(h).toEqual({ status: 'Degraded', message: 'InvalidSpec: spec.database.port: too big' });
  });

  it.each(['Failed', 'RolledBack', 'Restored'])('phase %s is Degraded with the last error', (phase) => {
    const h = health(
      dbm({
        observedGeneration: 2,
        phase,
        lastError: { step: 'migrate', message: 'column "x" does not exist' },
        conditions: [cond('Ready', 'False')],
      }),
    );
    expect(h).toEqual({
      status: 'Degraded',
      message: `Migration ${phase}: migrate: column "x" does not exist`,
    });
  });

  it('a blocked plan is Suspended and says how to approve it', () => {
    const h = health(
      dbm({
        observedGeneration: 2,
        phase: 'Blocked',
        plan: { pending: [], hash: 'abc123', findings: [] },
        conditions: [cond('Stalled', 'True', 'PlanBlocked', 'DROP COLUMN users.email')],
      }),
    );
    expect(h.status).toBe('Suspended');
    expect(h.message).toBe(
      'PlanBlocked: DROP COLUMN users.email (set spec.safety.approval to abc123 to accept it)',
    );
  });

  it('a status without conditions or phase is Progressing', () => {
    expect(health(dbm({ observedGeneration: 2 })).status).toBe('Progressing');
  });
});
