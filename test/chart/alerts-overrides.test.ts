// The chart's alerts under any release name, fullnameOverride and
// nameOverride: the PrometheusRule as rendered is loaded into a real Prometheus
// (Debian's package) that scrapes a real prom-client registry under the job
// name prometheus-operator gives the chart's Service (the Service's name) and
// the release namespace. The operator-down and no-leader alerts must follow
// that job, and the thresholds set as values must be the ones that fire.
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { createMetrics, type OperatorMetrics } from '../../operator/metrics.js';
import { startPrometheus, type RunningPrometheus } from '../observability/prometheus.js';
import { template, type K8sObject } from './tools.js';

jest.setTimeout(5 * 60_000);

const NS = 'platform-system';
const RELEASE = 'platform';
const ALERTS = [
  'DatabaseMigrationFailed',
  'DatabaseMigrationStuck',
  'DatabaseMigrationRestoreLeftWorkloadsDown',
  'DatabaseMigrationOperatorDown',
  'DatabaseMigrationOperatorNoLeader',
];
// Every `for` at 0s so an alert fires at its first true evaluation; Stuck after a minute.
const VALUES = [
  '--set',
  'metrics.prometheusRule.enabled=true,metrics.serviceMonitor.enabled=true',
  '--set',
  'metrics.prometheusRule.thresholds.stuckAfterSeconds=60',
  '--set-json',
  `metrics.prometheusRule.for=${JSON.stringify(Object.fromEntries(ALERTS.map((a) => [a, '0s'])))}`,
];

type Rule = { alert?: string; expr: string; for?: string };
type Group = { name: string; rules: Rule[] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function firing(prom: RunningPrometheus): Promise<string[]> {
  const r = await prom.query('ALERTS{alertstate="firing"}');
  return [...new Set((r.data?.result ?? []).map((s) => s.metric.alertname!))].sort();
}

async function eventually(prom: RunningPrometheus, want: string[], timeoutMs = 60_000): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  let last: string[] = [];
  while (Date.now() < until) {
    last = await firing(prom);
    if (JSON.stringify(last) === JSON.stringify([...want].sort())) return last;
    await sleep(500);
  }
  return last;
}

describe.each([
  ['fullnameOverride', ['--set', 'fullnameOverride=mig'], 'mig'],
  ['nameOverride', ['--set', 'nameOverride=migrations'], 'platform-migrations'],
  ['a release name without the chart name', [], 'platform-database-migration-operator'],
])('alerts with %s', (_, args, expectedJob) => {
  let server: Server | undefined;
  let prom: RunningPrometheus | undefined;
  let m: OperatorMetrics;
  let groups: Group[] = [];
  let job = '';
  const dir = mkdtempSync(join(tmpdir(), 'dbm-alerts-'));

  beforeAll(async () => {
    const objs = template([...VALUES, ...args], RELEASE, NS);
    const service = objs.find((o) => o.kind === 'Service');
    const rule = objs.find((o) => o.kind === 'PrometheusRule') as
      (K8sObject & { spec: { groups: Group[] } }) | undefined;
    if (!service || !rule) throw new Error('the chart rendered no Service or PrometheusRule');
    job = service.metadata.name; // prometheus-operator's job label for a ServiceMonitor target
    groups = rule.spec.groups;
    const rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, stringify({ groups }));

    const registry = new Registry();
    m = createMetrics(registry);
    const now = Date.now() / 1000;
    m.setLeader(true);
    const ok = { namespace: 'shop', name: 'orders', database: 'pg.shop:5432/orders' };
    m.setPhase(ok, 'Succeeded');
    // running for two minutes: past the 60 s threshold of the values, far below the default 2 h
    const slow = { namespace: 'shop', name: 'catalog', database: 'pg.shop:5432/catalog' };
    m.setPhase(slow, 'Migrating');
    m.setRunStarted(slow, now - 120);
    const failed = { namespace: 'billing', name: 'invoices', database: 'pg.billing:5432/invoices' };
    m.setPhase(failed, 'Failed');

    const srv = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    server = srv;
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address() as AddressInfo;
    prom = await startPrometheus({
      targets: [`127.0.0.1:${port}`],
      job,
      labels: { namespace: NS, pod: `${job}-0` },
      ruleFiles: [rulesFile],
    });
    await prom.waitForScrapes(3);
  });

  afterAll(async () => {
    await prom?.stop();
    server?.closeAllConnections();
    if (server?.listening) await new Promise<void>((resolve) => server!.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('selects the release’s own job and namespace and renders the thresholds of the values', () => {
    expect(job).toBe(expectedJob);
    const byName = Object.fromEntries(groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
    const own = `job="${expectedJob}",namespace="${NS}"`;
    expect(byName.DatabaseMigrationOperatorDown?.expr).toContain(`up{${own}}`);
    expect(byName.DatabaseMigrationOperatorNoLeader?.expr).toContain(`dbmigration_leader{${own}}`);
    expect(byName.DatabaseMigrationStuck?.expr).toContain('> 60');
    expect(byName.DatabaseMigrationStuck?.expr).not.toContain('7200');
    for (const a of ALERTS) expect(byName[a]?.for ?? '0s').toBe('0s');
    expect(JSON.stringify(groups)).not.toContain('database-migration-operator.*');
  });

  it('fires only what the scraped series call for while the operator is up and leads', async () => {
    const p = prom!;
    expect(await eventually(p, ['DatabaseMigrationFailed', 'DatabaseMigrationStuck'])).toEqual([
      'DatabaseMigrationFailed',
      'DatabaseMigrationStuck',
    ]);
    // Nothing else fires, even a few evaluations later.
    await p.waitForScrapes(2);
    expect(await firing(p)).toEqual(['DatabaseMigrationFailed', 'DatabaseMigrationStuck']);
  });

  it('fires NoLeader when no replica leads, and OperatorDown when the target is down', async () => {
    const p = prom!;
    m.setLeader(false);
    expect(
      await eventually(p, [
        'DatabaseMigrationFailed',
        'DatabaseMigrationStuck',
        'DatabaseMigrationOperatorNoLeader',
      ]),
    ).toContain('DatabaseMigrationOperatorNoLeader');
    server!.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const until = Date.now() + 60_000;
    let now: string[] = [];
    while (Date.now() < until && !(now = await firing(p)).includes('DatabaseMigrationOperatorDown'))
      await sleep(500);
    expect(now).toContain('DatabaseMigrationOperatorDown');
  });
});
