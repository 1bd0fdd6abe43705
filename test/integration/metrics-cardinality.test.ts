// What a Prometheus pays per DatabaseMigration: the operator runs for real (the
// chart's RBAC), N resources end in different phases, and the test scrapes
// /metrics and counts the series that carry each resource's labels. Figures
// are printed (metric=series_per_resource) for the notes.
import type * as k8s from '@kubernetes/client-node';
import type { JobResult, JobStep } from '../../crds/job-result.js';
import {
  backupResult,
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  ensureCrd,
  finishJobPod,
  migrateResult,
  operatorIdentity,
  planResult,
  result,
  startOperator,
  uniqueName,
  waitFor,
  waitForPhase,
  type RunningOperator,
} from './harness.js';

/** The budget per resource (issue 10): dashboards and alerts need no more. */
const MAX_SERIES_PER_RESOURCE = 15;

const c = clients();
const ns = uniqueName('it-metrics');
const system = uniqueName('it-metrics-sys');
let operator: RunningOperator;

async function jobFor(name: string, step: JobStep): Promise<k8s.V1Job> {
  return waitFor(`the ${step} Job of ${name}`, async () => {
    const jobs = await c.batch.listNamespacedJob({
      namespace: ns,
      labelSelector: `dbmigrate.io/name=${name},dbmigrate.io/step=${step}`,
    });
    return jobs.items[0];
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
}

function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels });
  }
  return out;
}

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
  await createNamespace(c, system);
  operator = await startOperator(await operatorIdentity(c, system, system), ns, 'op-metrics');
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
});

it(`exports at most ${MAX_SERIES_PER_RESOURCE} series per resource, plus build_info and run durations`, async () => {
  const blockedPlan: JobResult = result('check', {
    plan: {
      pending: ['DropLegacy1709123456790'],
      hash: 'd'.repeat(64),
      findings: [
        {
          rule: 'drop-column',
          category: 'destructive',
          severity: 'error',
          migration: 'DropLegacy1709123456790',
          message: 'drops a column',
        },
      ],
      notCaptured: [],
    },
  });
  for (const name of ['succeeded', 'blocked', 'failed', 'active'])
    await createResource(c, baseResource(name, ns, `db_${name}`));

  await finishJobPod(c, await jobFor('succeeded', 'check'), planResult());
  await finishJobPod(c, await jobFor('succeeded', 'backup'), backupResult());
  await finishJobPod(c, await jobFor('succeeded', 'migrate'), migrateResult());
  await finishJobPod(c, await jobFor('blocked', 'check'), blockedPlan);
  await finishJobPod(c, await jobFor('failed', 'check'), planResult());
  await finishJobPod(
    c,
    await jobFor('failed', 'backup'),
    result('backup', { ok: false, error: { message: 'pg_dump: connection refused' } }),
  );
  await waitForPhase(c, ns, 'succeeded', 'Succeeded');
  await waitForPhase(c, ns, 'blocked', 'Blocked');
  await waitForPhase(c, ns, 'failed', 'Failed');
  await jobFor('active', 'check'); // left Checking

  const samples = await waitFor('the last run to be counted in /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${operator.port}/metrics`)).text();
    const s = parseExposition(text);
    return s.some(
      (x) =>
        x.name === 'dbmigration_runs_total' &&
        x.labels.name === 'failed' &&
        x.labels.result === 'failed' &&
        !text.includes(`name="failed",result="failed"} 0`),
    )
      ? s
      : undefined;
  });
  const perResource: Record<string, number> = {};
  const families: Record<string, Set<string>> = {};
  for (const s of samples) {
    if (s.labels.namespace !== ns || !s.labels.name) continue;
    perResource[s.labels.name] = (perResource[s.labels.name] ?? 0) + 1;
    (families[s.labels.name] ??= new Set()).add(s.name);
  }
  console.log(
    JSON.stringify({
      metric: 'series_per_resource',
      perResource,
      families: Object.fromEntries(Object.entries(families).map(([k, v]) => [k, [...v].sort()])),
      notPerResource: samples.filter((s) => !s.labels.name && s.name.startsWith('dbmigration_')).length,
    }),
  );
  expect(Object.keys(perResource).sort()).toEqual(['active', 'blocked', 'failed', 'succeeded']);
  for (const [name, n] of Object.entries(perResource))
    expect([name, n <= MAX_SERIES_PER_RESOURCE]).toEqual([name, true]);

  const build = samples.filter((s) => s.name === 'dbmigration_build_info');
  expect(build).toHaveLength(1);
  expect(build[0]!.labels).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  // Whole runs, by result, across resources: the succeeded, blocked and failed runs above.
  const runs = samples.filter((s) => s.name === 'dbmigration_run_duration_seconds_count');
  expect(runs.every((s) => s.labels.name === undefined)).toBe(true);
  expect(runs.map((s) => s.labels.result).sort()).toEqual(
    expect.arrayContaining(['blocked', 'failed', 'succeeded']),
  );
}, 300_000);
