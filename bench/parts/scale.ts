// Operator scale: the operator (dist/operator/main.js, as the integration
// harness starts it, with the Node flags of its image's ENTRYPOINT) against the local API server with N DatabaseMigrations
// across M namespaces: N - Q settled (Succeeded, each on its own database) and
// Q fresh ones on ONE database, so one runs (its check Pod stays Pending: a
// nodeSelector no node matches) and Q - 1 queue behind it. Measures the
// initial sync, resident memory (VmRSS / VmHWM), the LISTs and WATCHes the
// API server serves while the operator idles (its apiserver_request_total),
// and the status writes each change of the run holding the database causes
// (a watch counts them).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GROUP, PLURAL, VERSION, type DatabaseMigration } from '../../crds/database-migration.js';
import { clients, ensureCrd, waitFor } from '../../test/integration/harness.js';
import { apiserverRequests, requestsBetween } from '../lib/apiserver-requests.js';
import { ensureCluster, pool, sleep } from '../lib/cluster.js';
import { NODE, ROOT } from '../lib/postgres.js';
import { rssMiB } from '../lib/proc.js';
import { comparison, figure, type Result } from '../lib/stats.js';
import { freePort } from '../../test/lib/ports.js';
import { createAll, LABEL, stripFinalizers, watchWrites } from './scale-setup.js';

export interface ScaleOptions {
  resources: number;
  namespaces: number;
  queued: number;
  /** Another build's dist/operator/main.js (e.g. before a fix): run beside this one, interleaved. */
  beforeMain?: string;
  rounds?: number;
  /** Changes of the holder to count status writes over. */
  holderChanges?: number;
  /** The idle window after settling over which the API server's LIST/WATCH count is taken. Default 30 s. */
  idleMs?: number;
}

/** Issue 20's targets at 5,000 resources in 50 namespaces, for the figures' notes. */
const TARGET = {
  rss: "target < 200 MB (issue 20); the chart's default memory limit must sit above the peak",
  settled: 'target < 20 s at 5,000 resources (issue 20)',
  lists: 'target 0 (issue 20): an idle operator relists nothing',
};
/** What the operator lists and watches (its informers). */
const OPERATOR_RESOURCES = ['databasemigrations', 'jobs', 'pods', 'configmaps'];

/**
 * The Node flags the operator's image starts it with (its Dockerfile's ENTRYPOINT, between
 * `node` and the script), so the bench runs each build as its image would.
 */
export function imageNodeFlags(main: string): string[] {
  const dockerfile = path.join(path.dirname(main), '../../Dockerfile');
  if (!existsSync(dockerfile)) return [];
  const line = readFileSync(dockerfile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ENTRYPOINT ['));
  const argv = line ? (JSON.parse(line.slice('ENTRYPOINT '.length)) as string[]) : [];
  return argv.slice(1, -1).filter((a) => a.startsWith('--'));
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  if (field === 'VmRSS') return rssMiB(pid);
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

export async function benchScale(o: ScaleOptions): Promise<Result[]> {
  ensureCluster();
  const c = clients();
  // The CRD only when absent: the shared cluster's may be newer than this checkout's.
  const crd = await c.objects
    .read({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${PLURAL}.${GROUP}` },
    })
    .catch(() => undefined);
  if (!crd) await ensureCrd(c);
  const nss = Array.from({ length: o.namespaces }, (_, i) => `bench-scale-${String(i).padStart(2, '0')}`);
  const out: Result[] = [];
  // A clean slate: namespaces from an earlier run are deleted first.
  await stripFinalizers(c);
  await pool(nss, 10, (ns) => c.core.deleteNamespace({ name: ns }).catch(() => undefined));
  await waitFor(
    'old bench namespaces to go',
    async () => {
      const list = await c.core.listNamespace({ labelSelector: `${LABEL}=scale` });
      return list.items.length === 0;
    },
    300_000,
    1000,
  );
  await pool(nss, 10, (ns) =>
    c.core.createNamespace({ body: { metadata: { name: ns, labels: { [LABEL]: 'scale' } } } }),
  );
  const t0 = performance.now();
  await createAll(c, o, nss);
  const watcher = await watchWrites(c.kc);
  out.push(
    figure(`create ${o.resources} resources (bench client, 24 in flight)`, performance.now() - t0, 'ms'),
  );

  interface Session {
    syncedMs: number;
    settledMs: number;
    rss: number;
    hwm: number;
    heapMiB: number;
    heapTotalMiB: number;
    externalMiB: number;
    /** LISTs / WATCHes of the operator's resources the API server served in the idle window. */
    idleLists: number;
    idleWatches: number;
    perChange: number[];
  }
  const queuedNames = new Set(
    Array.from(
      { length: o.queued },
      (_, k) => `scale-${String(o.resources - o.queued + k).padStart(5, '0')}`,
    ),
  );
  const queuedOnes = async () => {
    const list = (await c.custom.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      labelSelector: `${LABEL}=scale`,
    })) as { items: DatabaseMigration[] };
    return list.items.filter((d) => queuedNames.has(d.metadata.name));
  };

  /** One operator process: start, sync, settle, memory, then `changes` changes of the holder. */
  async function session(main: string, changes: number): Promise<Session> {
    const port = await freePort();
    let logTail = '';
    const started = performance.now();
    const child = spawn(NODE, [...imageNodeFlags(main), main], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        KUBECONFIG: process.env.KUBECONFIG,
        MIGRATOR_IMAGE: 'database-migration-operator/migrator:bench',
        WATCH_NAMESPACES: nss.join(','),
        LEADER_ELECTION: 'false',
        POD_NAME: 'bench-scale',
        HTTP_PORT: String(port),
        HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        // The bench reads /metrics (queue depth, heap) without a token, as the integration harness does.
        METRICS_AUTH: 'false',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (d: Buffer) => (logTail = (logTail + d.toString()).slice(-4000)));
    const pid = child.pid!;
    try {
      await waitFor(
        'the operator to sync',
        async () => {
          if (child.exitCode !== null) throw new Error(`operator exited ${child.exitCode}: ${logTail}`);
          return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok;
        },
        600_000,
        100,
      );
      const syncedMs = performance.now() - started;
      await waitFor(
        'every queued resource to have a phase',
        async () => (await queuedOnes()).every((d) => d.status?.phase),
        900_000,
        2000,
      );
      // Settled: an empty work queue, or (an older build that requeues queued resources every
      // 10 s may never show one on a loaded machine) no write for 5 s.
      await waitFor(
        'an idle work queue or no write for 5 s',
        async () =>
          (await metric(port, 'dbmigration_workqueue_depth')) === 0 || Date.now() - watcher.lastAt() > 5000,
        300_000,
        500,
      );
      const settledMs = performance.now() - started;
      await sleep(3000);
      const rss = procStatus(pid, 'VmRSS');
      const mib = async (name: string) => (await metric(port, name)) / 1024 / 1024;
      const heapMiB = await mib('nodejs_heap_size_used_bytes');
      const heapTotalMiB = await mib('nodejs_heap_size_total_bytes');
      const externalMiB = await mib('nodejs_external_memory_bytes');
      // Idle: nothing changes; whatever the API server serves now is the operator's own upkeep
      // (the control plane's controllers list other resources, so only the operator's count).
      const idleStart = await apiserverRequests(c.kc);
      await sleep(o.idleMs ?? 30_000);
      const idleEnd = await apiserverRequests(c.kc);
      const idleLists = requestsBetween(idleStart, idleEnd, 'LIST', OPERATOR_RESOURCES);
      const idleWatches = requestsBetween(idleStart, idleEnd, 'WATCH', OPERATOR_RESOURCES);
      const perChange: number[] = [];
      for (let k = 0; k < changes; k++) {
        // The holder: the one queued resource that is not Queued; deleted mid-check, the next one takes over.
        const holder = (await queuedOnes()).find(
          (d) => d.status?.phase && d.status.phase !== 'Queued' && !d.metadata.deletionTimestamp,
        );
        if (!holder) {
          // Reported, not fatal: the memory, sync and idle figures of this session still stand.
          process.stderr.write(`bench scale: no resource holds the shared database (change ${k + 1})\n`);
          perChange.push(Number.NaN);
          break;
        }
        const before = watcher.count();
        await c.custom.deleteNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: holder.metadata.namespace,
          plural: PLURAL,
          name: holder.metadata.name,
        });
        const t = Date.now();
        // Quiet: no write for 5 s, and at least one queued re-check (every 10 s) has passed.
        await waitFor(
          'writes to stop',
          async () => Date.now() - watcher.lastAt() > 5000 && Date.now() - t > 12_000,
          300_000,
          500,
        );
        perChange.push(watcher.count() - before);
      }
      return {
        syncedMs,
        settledMs,
        rss,
        heapMiB,
        heapTotalMiB,
        externalMiB,
        idleLists,
        idleWatches,
        hwm: procStatus(pid, 'VmHWM'),
        perChange,
      };
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
  }

  const idle = `${Math.round((o.idleMs ?? 30_000) / 1000)} s`;
  const idleListsName = `LISTs of the operator's resources while idle (API server's count over ${idle})`;
  const idleWatchesName = `WATCH requests of the operator's resources while idle (over ${idle})`;
  const current = path.join(ROOT, 'dist/operator/main.js');
  try {
    if (!o.beforeMain) {
      const s = await session(current, o.holderChanges ?? 3);
      out.push(
        figure('initial sync: start to informers synced (readyz)', s.syncedMs, 'ms'),
        figure(
          'initial sync: start to settled (all reconciled, queue empty)',
          s.settledMs,
          'ms',
          TARGET.settled,
        ),
        figure('operator resident memory after sync (VmRSS)', s.rss, 'MiB', TARGET.rss),
        figure('operator peak resident memory (VmHWM)', s.hwm, 'MiB', TARGET.rss),
        figure('operator JS heap used after sync', s.heapMiB, 'MiB'),
        figure('operator JS heap reserved after sync (heap total)', s.heapTotalMiB, 'MiB'),
        figure('operator memory outside the JS heap (external)', s.externalMiB, 'MiB'),
        figure(idleListsName, s.idleLists, 'requests', TARGET.lists),
        figure(idleWatchesName, s.idleWatches, 'requests'),
        comparison(
          `writes to the bench's resources per change of the holder (${o.queued} queued on one database)`,
          'writes',
          [{ label: 'this build', samples: s.perChange }],
        ),
      );
    } else {
      // Interleaved: this build, the other build, ... each a fresh operator process on the same resources.
      const sides = { after: [] as Session[], before: [] as Session[] };
      // The order rotates per round, so no side always runs first (on a machine that is still
      // settling after the resources were made). The very first session meets fresh resources
      // (every one gets its first status write); all later ones restart on settled ones.
      let first: Session | undefined;
      for (let r = 0; r < (o.rounds ?? 2); r++) {
        const order = r % 2 === 0 ? (['after', 'before'] as const) : (['before', 'after'] as const);
        for (const side of order) {
          const s = await session(side === 'after' ? current : o.beforeMain, o.holderChanges ?? 2);
          sides[side].push(s);
          first ??= s;
        }
      }
      if (!first) throw new Error('--scale-rounds must be at least 1');
      out.push(
        figure(
          'initial sync (first start, fresh resources): start to informers synced (readyz)',
          first.syncedMs,
          'ms',
        ),
        figure('initial sync (first start, fresh resources): start to settled', first.settledMs, 'ms'),
      );
      const cmp = (name: string, unit: string, f: (s: Session) => number[], note?: string) =>
        comparison(
          name,
          unit,
          [
            { label: 'before the fix', samples: sides.before.flatMap(f) },
            { label: 'this build', samples: sides.after.flatMap(f) },
          ],
          note,
        );
      out.push(
        cmp(
          `writes to the bench's resources per change of the holder (${o.queued} queued on one database)`,
          'writes',
          (s) => s.perChange,
        ),
        cmp('operator resident memory after sync (VmRSS)', 'MiB', (s) => [s.rss], TARGET.rss),
        cmp('operator peak resident memory (VmHWM)', 'MiB', (s) => [s.hwm], TARGET.rss),
        cmp('operator JS heap used after sync', 'MiB', (s) => [s.heapMiB]),
        cmp(idleListsName, 'requests', (s) => [s.idleLists], TARGET.lists),
        cmp(idleWatchesName, 'requests', (s) => [s.idleWatches]),
        cmp(
          "start to settled (the first session, this build's, on fresh resources; the rest restarts)",
          'ms',
          (s) => [s.settledMs],
          TARGET.settled,
        ),
      );
    }
  } finally {
    watcher.stop();
    await stripFinalizers(c);
    // Namespaces (and with them the resources, Jobs and Pods) are deleted in the background.
    await pool(nss, 10, (ns) => c.core.deleteNamespace({ name: ns }).catch(() => undefined));
  }
  return out;
}
