// Runs on one database are strictly serialized. Twenty DatabaseMigrations that
// target the same host/port/database are created at once; the test plays the
// kubelet and follows every Job through a watch (events arrive in the API
// server's order, so the set of active Jobs it keeps is every state the API
// passed through), and asserts that no two run Jobs of that database were ever
// active together. Then two operator replicas with leader election off: their
// target locks live in each process, so they do not serialize runs across
// replicas (in a real cluster the migrator's PostgreSQL advisory lock does);
// what does hold is asserted and the concurrency seen is recorded, not hidden.
import * as k8s from '@kubernetes/client-node';
import {
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  ensureCrd,
  finishJobPod,
  jobsOf,
  migrateResult,
  operatorIdentity,
  planResult,
  startOperator,
  uniqueName,
  waitFor,
  type OperatorIdentity,
  type RunningOperator,
} from '../integration/harness.js';
import { GROUP, PLURAL, VERSION, type DatabaseMigration } from '../../crds/database-migration.js';
import { recordReliability, writeReliabilityDoc } from './reliability-report.js';
import { collectOperatorOutput, createPasswordSecret, findTokens, passwordToken } from './secret-scan.js';

const c = clients();
const STEP = 'dbmigrate.io/step';
const system = uniqueName('serial-sys');
let identity: OperatorIdentity;
const scanned: { namespaces: string[]; operators: RunningOperator[]; tokens: string[] } = {
  namespaces: [],
  operators: [],
  tokens: [],
};

const finishedJob = (j: k8s.V1Job) =>
  Boolean(
    j.status?.conditions?.some(
      (x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True',
    ) || (j.status?.succeeded ?? 0) > 0,
  );

/** Follows the Jobs of a namespace: the most run Jobs (and migrate Jobs) active at once, and every Job seen. */
class JobTracker {
  readonly active = new Map<string, string>();
  readonly seen = new Map<string, k8s.V1Job>();
  maxActive = 0;
  maxMigrate = 0;
  overlaps: string[] = [];
  private request?: { abort(): void };
  private stopped = false;

  async start(namespace: string): Promise<void> {
    const watch = new k8s.Watch(c.kc);
    this.request = await watch.watch(
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      { labelSelector: 'app.kubernetes.io/managed-by=database-migration-operator' },
      (type: string, job: k8s.V1Job) => this.observe(type, job),
      // A watch that ends early would hide overlaps: it counts as a failure unless we stopped it.
      (err: unknown) => {
        if (!this.stopped) this.overlaps.push(`watch ended early: ${String(err)}`);
      },
    );
  }

  private observe(type: string, job: k8s.V1Job): void {
    const name = job.metadata?.name as string;
    this.seen.set(name, job);
    if (type === 'DELETED' || finishedJob(job)) {
      this.active.delete(name);
      return;
    }
    this.active.set(name, job.metadata?.labels?.[STEP] ?? '?');
    const migrating = [...this.active.values()].filter((s) => s === 'migrate').length;
    if (this.active.size > 1) this.overlaps.push([...this.active.keys()].join(' + '));
    this.maxActive = Math.max(this.maxActive, this.active.size);
    this.maxMigrate = Math.max(this.maxMigrate, migrating);
  }

  stop(): void {
    this.stopped = true;
    this.request?.abort();
  }
}

/** Plays the kubelet: finishes each Job's Pod once, with a good plan or a good migrate. */
function playKubelet(namespace: string): { stop(): Promise<void> } {
  let running = true;
  const done = new Set<string>();
  const loop = (async () => {
    while (running) {
      for (const job of await jobsOf(c, namespace)) {
        const name = job.metadata?.name as string;
        if (done.has(name) || finishedJob(job)) continue;
        const pods = await c.core.listNamespacedPod({
          namespace,
          labelSelector: `batch.kubernetes.io/job-name=${name}`,
        });
        if (!pods.items[0]) continue;
        const step = job.metadata?.labels?.[STEP];
        await finishJobPod(c, job, step === 'check' ? planResult() : migrateResult());
        done.add(name);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

async function resources(namespace: string): Promise<DatabaseMigration[]> {
  const list = (await c.custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
  })) as { items: DatabaseMigration[] };
  return list.items;
}

/** N resources on one database (no backup: each run is a check Job, then a migrate Job). */
async function createOnOneDatabase(namespace: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `same-db-${String(i).padStart(2, '0')}`);
  await Promise.all(
    names.map((n) => createResource(c, baseResource(n, namespace, 'orders', { backup: { enabled: false } }))),
  );
  return names;
}

async function allSucceeded(
  namespace: string,
  count: number,
  timeoutMs: number,
): Promise<DatabaseMigration[]> {
  return waitFor(
    `${count} resources in ${namespace} to succeed`,
    async () => {
      const items = await resources(namespace);
      const failed = items.find((r) => ['Failed', 'Blocked'].includes(r.status?.phase ?? ''));
      if (failed)
        throw new Error(
          `${failed.metadata.name} ended ${failed.status?.phase}: ${failed.status?.lastError?.message}`,
        );
      return items.length === count && items.every((r) => r.status?.phase === 'Succeeded')
        ? items
        : undefined;
    },
    timeoutMs,
    500,
  );
}

/** Per resource: its Jobs by step, and whether each step's Job was created once in one attempt. */
function jobsPerResource(jobs: Iterable<k8s.V1Job>): Map<string, string[]> {
  const per = new Map<string, string[]>();
  for (const j of jobs) {
    const owner = j.metadata?.labels?.['dbmigrate.io/name'] ?? '?';
    per.set(owner, [
      ...(per.get(owner) ?? []),
      `${j.metadata?.labels?.[STEP]}@${j.metadata?.labels?.['dbmigrate.io/attempt']}`,
    ]);
  }
  return per;
}

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, system);
  identity = await operatorIdentity(c, system, system);
});

afterAll(async () => {
  for (const op of scanned.operators) await op.stop();
  for (const ns of scanned.namespaces) await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
  // Whichever fault file ends last writes the table from every file's rows.
  writeReliabilityDoc();
});

async function namespaceWithSecret(prefix: string): Promise<string> {
  const ns = uniqueName(prefix);
  await createNamespace(c, ns);
  const token = passwordToken();
  await createPasswordSecret(c, ns, token);
  scanned.namespaces.push(ns);
  scanned.tokens.push(token);
  return ns;
}

describe('runs on one database', () => {
  it('20 resources created at once on one database: no two run Jobs active together, all Succeeded', async () => {
    const ns = await namespaceWithSecret('serial');
    const tracker = new JobTracker();
    await tracker.start(ns);
    const operator = await startOperator(identity, ns, `op-${ns.slice(-6)}`);
    scanned.operators.push(operator);
    const kubelet = playKubelet(ns);
    try {
      const names = await createOnOneDatabase(ns, 20);
      const items = await allSucceeded(ns, names.length, 300_000);
      const per = jobsPerResource(tracker.seen.values());
      const once = names.every((n) => JSON.stringify(per.get(n)?.sort()) === '["check@1","migrate@1"]');
      recordReliability({
        fault: '20 resources on one database, created at once',
        run: 'success',
        injected: 20,
        outcome: `${items.filter((r) => r.status?.phase === 'Succeeded').length}/20 Succeeded`,
        jobsCreatedOnce: once,
        detail: `${tracker.seen.size} Jobs watched; at most ${tracker.maxActive} run Job(s) and ${tracker.maxMigrate} migrate Job(s) active at once`,
      });
      expect(tracker.overlaps).toEqual([]);
      expect(tracker.maxActive).toBe(1);
      expect(once).toBe(true);
      expect(tracker.seen.size).toBe(40);
    } finally {
      await kubelet.stop();
      tracker.stop();
    }
  });

  it('two replicas with leader election off: each run created once; cross-replica concurrency recorded', async () => {
    const ns = await namespaceWithSecret('noleader');
    const tracker = new JobTracker();
    await tracker.start(ns);
    const replicas = [
      await startOperator(identity, ns, `opa-${ns.slice(-6)}`, { LEADER_ELECTION: 'false' }),
      await startOperator(identity, ns, `opb-${ns.slice(-6)}`, { LEADER_ELECTION: 'false' }),
    ];
    scanned.operators.push(...replicas);
    const kubelet = playKubelet(ns);
    try {
      const names = await createOnOneDatabase(ns, 6);
      await allSucceeded(ns, names.length, 240_000);
      const per = jobsPerResource(tracker.seen.values());
      const once = names.every((n) => JSON.stringify(per.get(n)?.sort()) === '["check@1","migrate@1"]');
      recordReliability({
        fault: 'two operator replicas, leader election off, 6 resources on one database',
        run: 'success',
        injected: 6,
        outcome: '6/6 Succeeded',
        jobsCreatedOnce: once,
        detail:
          `at most ${tracker.maxActive} run Job(s) and ${tracker.maxMigrate} migrate Job(s) of the database active at once: ` +
          "each replica's target lock is in its own memory, so runs are serialized per replica only; " +
          "across replicas only the migrator's advisory lock serializes the migrations (not exercised here: the kubelet is played)",
      });
      for (const r of replicas) expect(r.process.exitCode).toBeNull();
      expect(once).toBe(true);
      // Each replica admits one run at a time, so two replicas can never run more than two.
      expect(tracker.maxActive).toBeLessThanOrEqual(2);
    } finally {
      await kubelet.stop();
      tracker.stop();
    }
  });

  it('the password is nowhere the operators wrote', async () => {
    const sources = await collectOperatorOutput(c, scanned.namespaces, scanned.operators);
    const hits = findTokens(sources, scanned.tokens);
    recordReliability({
      fault: 'password scan (serialization runs)',
      run: 'scan',
      injected: sources.length,
      outcome: `${hits.length} found`,
      detail: `${scanned.tokens.length} passwords; searched: ${sources.map((s) => s.what).join('; ')}`,
    });
    expect(sources.length).toBeGreaterThanOrEqual(3 * 2 + scanned.operators.length);
    expect(hits).toEqual([]);
  });
});
