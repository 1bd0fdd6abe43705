// Every PromQL expression of the dashboard and of the alert rules, executed by
// a real Prometheus (Debian's package) that scrapes a real prom-client registry
// built by createMetrics and driven through two runs. Each expression must be
// valid, every selector in it must match series that exist, every label it
// groups by must exist on them, and every dashboard query must return data.
// (The e2e suite repeats this against a real operator on the local cluster.)
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createMetrics } from '../../operator/metrics.js';
import type { OperatorMetrics, ResourceLabels } from '../../operator/metrics.js';
import { RULES_FILE } from '../chart/tools.js';
import { checkExpression, JOB, panelExprs, ruleExprs, rules } from './expressions.js';
import { startPrometheus } from './prometheus.js';
import type { RunningPrometheus } from './prometheus.js';

let server: Server;
let prom: RunningPrometheus;

/** Two runs of two resources: one succeeds, one fails and is restored. */
function run(m: OperatorMetrics, a: ResourceLabels, b: ResourceLabels, round: number) {
  const now = Date.now() / 1000;
  m.setPhase(a, 'Checking');
  m.setRunStarted(a, now - 30);
  m.setFindings(a, { warning: 1 });
  m.setPendingMigrations(a, 2);
  for (const step of ['check', 'backup', 'migrate', 'verify'] as const)
    m.stepFinished(a, step, true, 2 * round);
  m.setBackup(a, 4096 * round, now);
  m.migrationsApplied(a, 2);
  m.setPendingMigrations(a, 0);
  m.runFinished(a, 'succeeded', 90 * round);
  m.setLastSuccess(a, now);
  m.setRunStarted(a, undefined);
  m.setPhase(a, 'Succeeded');

  m.setPhase(b, 'Restoring');
  m.setRunStarted(b, now - 60);
  m.stepFinished(b, 'check', true, 1);
  m.stepFinished(b, 'backup', true, 5);
  m.setBackup(b, 1 << 20, now);
  m.stepFinished(b, 'migrate', false, 3);
  m.setWorkloadsScaledDown(b, 2);
  m.stepFinished(b, 'restore', true, 20);
  m.runFinished(b, round === 1 ? 'restored' : 'failed', 300);
  m.setPhase(b, round === 1 ? 'Restored' : 'Failed');
  m.setRunStarted(b, undefined);
  m.setFindings(b, { error: 1, info: 2 });

  for (let i = 0; i < 5; i++) m.reconcileDone(0.01 * (i + 1), i === 4);
  m.setQueueDepth(round);
  m.observeQueueWait(0.2);
}

beforeAll(async () => {
  const registry = new Registry();
  const m = createMetrics(registry);
  server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  prom = await startPrometheus({
    targets: [`127.0.0.1:${port}`],
    job: JOB,
    labels: { namespace: 'dbm-system', pod: 'dbm-database-migration-operator-0' },
    ruleFiles: [RULES_FILE],
  });
  const a: ResourceLabels = { namespace: 'shop', name: 'orders', database: 'pg.shop:5432/orders' };
  const b: ResourceLabels = { namespace: 'billing', name: 'invoices', database: 'pg.billing:5432/invoices' };
  // a third resource whose run is still going when the queries run
  const c: ResourceLabels = { namespace: 'shop', name: 'catalog', database: 'pg.shop:5432/catalog' };
  m.setLeader(true);
  m.setPhase(a, 'Pending');
  m.setPhase(b, 'Pending');
  m.setPhase(c, 'Migrating');
  // The phase series is the current phase only: the rules' selectors need resources in those phases.
  m.setPhase({ namespace: 'shop', name: 'risky', database: 'pg.shop:5432/risky' }, 'Blocked');
  m.setPhase({ namespace: 'billing', name: 'ledger', database: 'pg.billing:5432/ledger' }, 'Restoring');
  m.setRunStarted(c, Date.now() / 1000);
  m.setMigrateExpectedEnd(c, Date.now() / 1000 + 60);
  await prom.waitForScrapes(3);
  run(m, a, b, 1);
  await prom.waitForScrapes(3);
  run(m, a, b, 2);
  await prom.waitForScrapes(3);
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('PromQL against a real Prometheus', () => {
  it.each(panelExprs.map((e) => [e.where, e.expr] as const))(
    '%s is valid, names existing series and returns data',
    async (_, expr) => {
      const { problems, result } = await checkExpression(prom, expr);
      expect(problems).toEqual([]);
      expect(result.length).toBeGreaterThan(0);
    },
  );

  it.each(ruleExprs.map((e) => [e.where, e.expr] as const))(
    '%s is valid and names existing series',
    async (_, expr) => {
      const { problems } = await checkExpression(prom, expr);
      expect(problems).toEqual([]);
    },
  );

  it('loads and evaluates every alert rule without errors', async () => {
    const loaded = await prom.rules();
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert ?? r.record).sort());
    for (const r of loaded)
      expect({ name: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({
        name: r.name,
        health: 'ok',
        lastError: '',
      });
  });

  it('fires DatabaseMigrationFailed for the failed resource only', async () => {
    const r = await prom.query('ALERTS{alertname="DatabaseMigrationFailed"}');
    const firing = (r.data?.result ?? []).map((s) => `${s.metric.namespace}/${s.metric.name}`);
    expect([...new Set(firing)]).toEqual(['billing/invoices']);
  });
});
