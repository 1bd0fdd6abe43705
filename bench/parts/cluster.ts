// Cluster level, on the local cluster's real node: a DatabaseMigration's full
// run (check, backup, migrate) and one without the backup, beside a bare Job
// running the same migrate container (the operator's own migrate Job, copied
// without its operator labels), interleaved, each on a fresh database of the
// demo PostgreSQL; and the latency from a resource's creation to its first Pod.
// The environment comes up the way the e2e global setup brings it up (cluster,
// node, images, PostgreSQL; test/e2e/up.sh's steps) except the Helm release:
// the operator runs as a host process (as the integration harness runs it), so
// the bench never replaces an e2e run's operator on a shared cluster.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type DatabaseMigration } from '../../crds/database-migration.js';
import { apply, clients, ensureCrd, waitFor, type Clients } from '../../test/integration/harness.js';
import { ensureCluster, sleep } from '../lib/cluster.js';
import { NODE, ROOT } from '../lib/postgres.js';
import { run } from '../lib/proc.js';
import { comparison, figure, median, type Result } from '../lib/stats.js';
import { timeline, type Timeline } from '../lib/timeline.js';

const NS = 'bench-cluster';

function settings(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(?:export )?(\w+)='?([^']*)'?$/.exec(line.trim());
    if (m?.[1]) out[m[1]] = m[2] ?? '';
  }
  return out;
}

function bringUp(): { images: Record<string, string>; pg: Record<string, string> } {
  const sh = (script: string, args: string[] = []) =>
    run('bash', [path.join(ROOT, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout;
  ensureCluster();
  sh('test/node/up.sh');
  // DBM_BENCH_MIGRATOR_IMAGE + DBM_BENCH_EXAMPLE_IMAGE: images already on the node (e.g. of the
  // same migrator sources), when a rebuild is not wanted; otherwise build.sh builds and imports.
  const given = process.env.DBM_BENCH_MIGRATOR_IMAGE && process.env.DBM_BENCH_EXAMPLE_IMAGE;
  if (!given) sh('images/build.sh');
  const pg: Record<string, string> = {};
  for (const line of sh('scripts/demo/postgres.sh', ['up']).split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line.trim());
    if (m?.[1]) pg[m[1]] = m[2] ?? '';
  }
  const images = given
    ? {
        DBM_MIGRATOR_IMAGE: process.env.DBM_BENCH_MIGRATOR_IMAGE!,
        DBM_EXAMPLE_IMAGE: process.env.DBM_BENCH_EXAMPLE_IMAGE!,
      }
    : settings(path.join(ROOT, '.tmp/images/images.env'));
  return { images, pg };
}

async function prepareNamespace(c: Clients, password: string): Promise<void> {
  await c.core.deleteNamespace({ name: NS }).catch(() => undefined);
  await waitFor(
    'the old bench namespace to go',
    async () => !(await c.core.readNamespace({ name: NS }).catch(() => undefined)),
    300_000,
    1000,
  );
  await c.core.createNamespace({ body: { metadata: { name: NS } } });
  await apply(c, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace: NS },
    stringData: { password },
  } as k8s.KubernetesObject);
  const hostDir = path.join(process.env.DBM_NODE_ROOT ?? '/var/lib/dbm-node', 'bench-backups');
  rmSync(hostDir, { recursive: true, force: true });
  mkdirSync(hostDir, { recursive: true });
  chmodSync(hostDir, 0o1777);
  await c.core.deletePersistentVolume({ name: `${NS}-backups` }).catch(() => undefined);
  await waitFor(
    'the old PV to go',
    async () => !(await c.core.readPersistentVolume({ name: `${NS}-backups` }).catch(() => undefined)),
    120_000,
    500,
  );
  await apply(c, {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${NS}-backups` },
    spec: {
      capacity: { storage: '5Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'bench-local',
      claimRef: { namespace: NS, name: 'backups' },
      hostPath: { path: hostDir, type: 'DirectoryOrCreate' },
    },
  } as k8s.KubernetesObject);
  await apply(c, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'backups', namespace: NS },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'bench-local',
      resources: { requests: { storage: '5Gi' } },
    },
  } as k8s.KubernetesObject);
}

/** First-seen times of Pods by the label that names their owner (the watch sees them as they are created). */
async function podWatch(
  kc: k8s.KubeConfig,
  tl: Timeline,
): Promise<{ firstPodAt: (key: string) => number | undefined; stop: () => void }> {
  const first = new Map<string, number>();
  const w = new k8s.Watch(kc);
  const req = await w.watch(
    `/api/v1/namespaces/${NS}/pods`,
    {},
    (type, pod: k8s.V1Pod) => {
      if (type === 'ADDED' || type === 'MODIFIED') tl.observe(pod, performance.now());
      if (type !== 'ADDED') return;
      const l = pod.metadata?.labels ?? {};
      const key = l['dbmigrate.io/name'] ?? l['bench/run'] ?? '';
      if (key && !first.has(key)) first.set(key, performance.now());
    },
    () => undefined,
  );
  return { firstPodAt: (k) => first.get(k), stop: () => req.abort() };
}

export async function benchCluster(o: { runs: number }): Promise<Result[]> {
  const { images, pg } = bringUp();
  const c = clients();
  // A fresh cluster (the bench brought it up) has no CRD yet: the e2e setup installs it with Helm.
  await ensureCrd(c);
  const password = readFileSync(pg.DBM_PG_PASSWORD_FILE!, 'utf8').trim();
  await prepareNamespace(c, password);
  const createdb = (db: string) => run('bash', [path.join(ROOT, 'scripts/demo/postgres.sh'), 'createdb', db]);
  const dropdb = (db: string) => run('bash', [path.join(ROOT, 'scripts/demo/postgres.sh'), 'dropdb', db]);

  const operator = spawn(NODE, [path.join(ROOT, 'dist/operator/main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      KUBECONFIG: process.env.KUBECONFIG,
      MIGRATOR_IMAGE: images.DBM_MIGRATOR_IMAGE,
      MIGRATOR_IMAGE_PULL_POLICY: 'IfNotPresent',
      WATCH_NAMESPACES: NS,
      LEADER_ELECTION: 'false',
      POD_NAME: 'bench-cluster',
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logTail = '';
  operator.stderr.on('data', (d: Buffer) => (logTail = (logTail + d.toString()).slice(-4000)));
  const tl = timeline();
  const pods = await podWatch(c.kc, tl);
  /** Where each full run's time went (timeline.ts), one record per run. */
  const fullPhases: Record<string, number>[] = [];
  const dbs: string[] = [];
  let n = 0;
  const resource = (name: string, db: string, backup: boolean) => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'DatabaseMigration',
    metadata: { name, namespace: NS },
    spec: {
      database: {
        host: pg.DBM_PG_HOST,
        port: Number(pg.DBM_PG_PORT),
        database: db,
        user: pg.DBM_PG_USER,
        sslMode: 'disable',
        passwordSecretRef: { name: 'db', key: 'password' },
      },
      migrations: { image: images.DBM_EXAMPLE_IMAGE, path: '/app/dist/migrations', transactionMode: 'each' },
      backup: backup ? { enabled: true, pvcName: 'backups' } : { enabled: false },
      jobTemplate: { activeDeadlineSeconds: 300, runAsUser: 10001 },
    },
  });
  const getDm = (name: string) =>
    c.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: PLURAL,
      name,
    }) as Promise<DatabaseMigration>;

  /** Creates a resource, waits for Succeeded; returns total and creation-to-first-Pod ms. */
  async function dmRun(
    backup: boolean,
  ): Promise<{ ms: number; firstPodMs: number; template?: k8s.V1PodTemplateSpec }> {
    const name = `run-${++n}`;
    const db = `bench_c${n}`;
    createdb(db);
    dbs.push(db);
    const t0 = performance.now();
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: PLURAL,
      body: resource(name, db, backup),
    });
    const dm = await waitFor(
      `${name} to finish`,
      async () => {
        if (operator.exitCode !== null) throw new Error(`operator exited: ${logTail}`);
        const d = await getDm(name);
        if (d.status?.phase === 'Failed' || d.status?.phase === 'Blocked')
          throw new Error(
            `${name} ${d.status.phase}: ${JSON.stringify(d.status.lastError ?? d.status.conditions)}`,
          );
        return d.status?.phase === 'Succeeded' ? d : undefined;
      },
      600_000,
      100,
    );
    const ms = performance.now() - t0;
    if (backup) fullPhases.push(tl.phases(name, t0, t0 + ms));
    const firstPodMs = (pods.firstPodAt(name) ?? Number.NaN) - t0;
    const migrateJob = (
      await c.batch.listNamespacedJob({
        namespace: NS,
        labelSelector: `dbmigrate.io/name=${name},dbmigrate.io/step=migrate`,
      })
    ).items[0];
    void dm;
    return { ms, firstPodMs, ...(migrateJob?.spec?.template ? { template: migrateJob.spec.template } : {}) };
  }

  try {
    // A first run (not counted) gives the migrate Job to copy and warms the node's image cache.
    const warm = await dmRun(false);
    if (!warm.template) throw new Error('the warm-up run left no migrate Job');
    const bareTemplate = (db: string, key: string): k8s.V1PodTemplateSpec => {
      const t = JSON.parse(JSON.stringify(warm.template)) as k8s.V1PodTemplateSpec;
      t.metadata = { labels: { 'bench/run': key } };
      for (const ctr of [...(t.spec?.containers ?? []), ...(t.spec?.initContainers ?? [])])
        for (const e of ctr.env ?? []) if (e.name === 'PGDATABASE') e.value = db;
      return t;
    };
    async function bareJob(): Promise<{ ms: number; firstPodMs: number }> {
      const name = `bare-${++n}`;
      const db = `bench_c${n}`;
      createdb(db);
      dbs.push(db);
      const t0 = performance.now();
      await c.batch.createNamespacedJob({
        namespace: NS,
        body: { metadata: { name }, spec: { backoffLimit: 0, template: bareTemplate(db, name) } },
      });
      await waitFor(
        `${name} to complete`,
        async () => {
          const j = await c.batch.readNamespacedJob({ name, namespace: NS });
          if (j.status?.conditions?.some((x) => x.type === 'Failed' && x.status === 'True'))
            throw new Error(`${name} failed`);
          return j.status?.conditions?.some((x) => x.type === 'Complete' && x.status === 'True');
        },
        600_000,
        100,
      );
      return { ms: performance.now() - t0, firstPodMs: (pods.firstPodAt(name) ?? Number.NaN) - t0 };
    }
    const samples = { bare: [] as number[], nobackup: [] as number[], full: [] as number[] };
    const firstPod = { bare: [] as number[], nobackup: [] as number[], full: [] as number[] };
    const order = ['bare', 'nobackup', 'full'] as const;
    for (let r = 0; r < o.runs; r++) {
      for (let k = 0; k < order.length; k++) {
        const side = order[(k + r) % order.length]!;
        const res = side === 'bare' ? await bareJob() : await dmRun(side === 'full');
        samples[side].push(Math.round(res.ms));
        firstPod[side].push(Math.round(res.firstPodMs));
        await sleep(500);
      }
    }
    return [
      comparison(
        'one run on the real node: creation to done (example app, 4 migrations, fresh database)',
        'ms',
        [
          { label: 'bare Job (the same migrate container), to Complete', samples: samples.bare },
          { label: 'DatabaseMigration, backup off, to Succeeded', samples: samples.nobackup },
          { label: 'DatabaseMigration, full (check, backup, migrate), to Succeeded', samples: samples.full },
        ],
        'the operator runs as a host process watching only the bench namespace; status polled every 100 ms',
      ),
      comparison('creation to first Pod (seen by a watch)', 'ms', [
        { label: 'bare Job', samples: firstPod.bare },
        { label: 'DatabaseMigration, backup off', samples: firstPod.nobackup },
        { label: 'DatabaseMigration, full', samples: firstPod.full },
      ]),
      ...timelineFigures(fullPhases),
    ];
  } finally {
    pods.stop();
    operator.kill('SIGTERM');
    if (operator.exitCode === null) await new Promise((r) => operator.once('exit', r));
    await c.core.deleteNamespace({ name: NS }).catch(() => undefined);
    for (const db of dbs) {
      try {
        dropdb(db);
      } catch {
        /* best effort */
      }
    }
  }
}

/** The full runs' timeline, phase by phase, as medians over the counted runs (the warm-up has no backup, so is not one). */
function timelineFigures(runs: Record<string, number>[]): Result[] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
  return keys.map((k) =>
    figure(
      `full run timeline: ${k}`,
      median(runs.map((r) => r[k] ?? 0)),
      'ms',
      `median of ${runs.length}, seen by a Pod watch`,
    ),
  );
}
