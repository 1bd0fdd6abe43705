// The controller: informers feed a work queue; workers run the pure reconciler
// for one key at a time and carry out its actions (create Jobs, scale
// workloads, record Events), then write the status with optimistic concurrency.
import { PatchStrategy, setHeaderOptions, type V1Job, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  scrubTarget,
  VERSION,
  type DatabaseMigration,
  type DatabaseMigrationStatus,
} from '../crds/database-migration.js';
import { act, type Edge } from './act.js';
import type { OperatorConfig } from './config.js';
import type { JobBuildConfig } from './job-builder.js';
import { jobsToPrune } from './job-retention.js';
import type { OperatorMetrics, ResourceLabels } from './metrics.js';
import {
  migrateProgress as readProgress,
  migrationsConfigMap as readMigrationsConfigMap,
  workloadPods,
  workloadsScaledBackBy as scaledBackBy,
} from './observe.js';
import { isActive, isTerminal } from './phases.js';
import { FINALIZER, reconcile, type Action } from './reconciler.js';
import { recordReconcile } from './run-metrics.js';
import { createEventRecorder, type EventSink } from './runtime/events.js';
import type { ResilientInformer } from './runtime/informer.js';
import { describeApiError, httpStatus, type KubeClients } from './runtime/kube-clients.js';
import { WorkQueue } from './runtime/workqueue.js';
import { identityLock, safeTarget, TargetLocks } from './target-locks.js';
import { createWatches } from './watches.js';

export interface ControllerDeps {
  clients: KubeClients;
  config: OperatorConfig;
  logger: Logger;
  metrics: OperatorMetrics;
  now?: () => Date;
}

type Obj = {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    ownerReferences?: { kind: string; name: string; uid: string }[];
    labels?: Record<string, string>;
  };
};

const keyOf = (ns: string, name: string) => `${ns}/${name}`;

export class Controller {
  private readonly queue: WorkQueue;
  private readonly locks = new TargetLocks();
  private readonly events: EventSink<DatabaseMigration>;
  private readonly dmInformers: ResilientInformer<DatabaseMigration>[] = [];
  private readonly jobInformers: ResilientInformer<V1Job>[] = [];
  private readonly podInformers: ResilientInformer<V1Pod>[] = [];
  /** Our own last status write per key: the informer may lag behind it. */
  private readonly written = new Map<string, DatabaseMigration>();
  private resync?: NodeJS.Timeout;
  private workersStarted = false;
  private synced = false;
  private readonly now: () => Date;

  constructor(private readonly deps: ControllerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.queue = new WorkQueue({
      onDepthChange: (d) => deps.metrics.setQueueDepth(d),
      onWait: (s) => deps.metrics.observeQueueWait(s),
    });
    const kind = { apiVersion: API_VERSION, kind: KIND };
    this.events = createEventRecorder<DatabaseMigration>(
      deps.clients.core,
      deps.config.identity,
      deps.logger,
      kind,
    );
  }

  async start(): Promise<void> {
    const { clients, config, logger } = this.deps;
    const namespaces = config.watchNamespaces.length ? config.watchNamespaces : [undefined];
    for (const ns of namespaces) {
      const w = createWatches(clients, ns, logger, {
        resource: (type, dm) => {
          const key = keyOf(dm.metadata.namespace, dm.metadata.name);
          if (type === 'delete') this.written.delete(key);
          this.queue.add(key);
        },
        job: (job) => this.enqueueOwner(job),
        pod: (pod) => this.enqueuePodOwner(pod),
      });
      this.dmInformers.push(w.resources);
      this.jobInformers.push(w.jobs);
      this.podInformers.push(w.pods);
    }
    await Promise.all(
      [...this.dmInformers, ...this.jobInformers, ...this.podInformers].map((i) => i.start()),
    );
    this.synced = true;
  }

  /** Called once this replica leads: rebuild target claims, then work. */
  startWorkers(): void {
    if (this.workersStarted) return;
    this.workersStarted = true;
    for (const dm of this.allResources()) {
      if (isActive(dm.status?.phase) && dm.status?.target) {
        this.locks.claim(scrubTarget(dm.status.target), keyOf(dm.metadata.namespace, dm.metadata.name));
        const identity = identityLock(dm.status);
        if (identity) this.locks.claim(identity, keyOf(dm.metadata.namespace, dm.metadata.name));
      }
      this.queue.add(keyOf(dm.metadata.namespace, dm.metadata.name));
    }
    for (let i = 0; i < this.deps.config.maxConcurrentReconciles; i++) void this.worker();
    if (this.deps.config.resyncSeconds > 0) {
      this.resync = setInterval(() => {
        for (const dm of this.allResources()) this.queue.add(keyOf(dm.metadata.namespace, dm.metadata.name));
      }, this.deps.config.resyncSeconds * 1000);
      this.resync.unref();
    }
  }

  /** Stops taking work, lets in-flight reconciles finish (bounded), then stops watching. */
  async stop(drainMs = 20_000): Promise<void> {
    if (this.resync) clearInterval(this.resync);
    this.queue.shutDown();
    const deadline = Date.now() + drainMs;
    while (this.queue.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.queue.inFlight() > 0)
      this.deps.logger.warn({ inFlight: this.queue.inFlight() }, 'stopping with reconciles still in flight');
    await Promise.all([...this.dmInformers, ...this.jobInformers, ...this.podInformers].map((i) => i.stop()));
  }

  ready(): { ok: boolean; reason?: string } {
    return this.synced ? { ok: true } : { ok: false, reason: 'informers have not synced yet' };
  }

  private allResources(): DatabaseMigration[] {
    return this.dmInformers.flatMap((i) => i.list());
  }

  private findResource(namespace: string, name: string): DatabaseMigration | undefined {
    for (const i of this.dmInformers) {
      const dm = i.get(name, namespace);
      if (dm) return dm;
    }
    return undefined;
  }

  private enqueueOwner(obj: Obj): void {
    const owner = obj.metadata?.ownerReferences?.find((r) => r.kind === 'DatabaseMigration');
    if (owner && obj.metadata?.namespace) this.queue.add(keyOf(obj.metadata.namespace, owner.name));
  }

  private enqueuePodOwner(pod: V1Pod): void {
    const ns = pod.metadata?.namespace;
    const jobRef = pod.metadata?.ownerReferences?.find((r) => r.kind === 'Job');
    if (!ns || !jobRef) return;
    for (const i of this.jobInformers) {
      const job = i.get(jobRef.name, ns);
      if (job) this.enqueueOwner(job as Obj);
    }
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const started = performance.now();
      let failed = false;
      try {
        const requeueAfterMs = await this.reconcileKey(key);
        this.queue.forget(key);
        if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
      } catch (err) {
        failed = true;
        this.deps.logger.warn({ key, err: describeApiError(err) }, 'reconcile failed; retrying with backoff');
        this.queue.addRateLimited(key);
      } finally {
        this.deps.metrics.reconcileDone((performance.now() - started) / 1000, failed);
        this.queue.done(key);
      }
    }
  }

  /** Newest of the cached object and our own last write (the cache can lag behind it). */
  private current(key: string, cached: DatabaseMigration): DatabaseMigration {
    const mine = this.written.get(key);
    if (!mine || mine.metadata.uid !== cached.metadata.uid) return cached;
    const a = Number(cached.metadata.resourceVersion);
    const b = Number(mine.metadata.resourceVersion);
    if (Number.isFinite(a) && Number.isFinite(b) && b > a) return { ...cached, status: mine.status };
    return cached;
  }

  private async reconcileKey(key: string): Promise<number | undefined> {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = this.findResource(namespace, name);
    if (!cached) {
      this.deps.metrics.forget(namespace, name);
      this.release(key);
      return undefined;
    }
    const dm = this.current(key, cached);
    const logger = this.deps.logger.child({ namespace, name, generation: dm.metadata.generation });
    const jobs = this.jobInformers
      .flatMap((i) => i.list(namespace))
      .filter((j) => j.metadata?.ownerReferences?.some((r) => r.uid === dm.metadata.uid));
    const jobNames = new Set(jobs.map((j) => j.metadata?.name));
    const pods = this.podInformers
      .flatMap((i) => i.list(namespace))
      .filter((p) => p.metadata?.ownerReferences?.some((r) => r.kind === 'Job' && jobNames.has(r.name)));

    const { clients } = this.deps;
    const workloadPodsRunning = await workloadPods(clients, dm, logger);
    const workloadsScaledBackBy = await scaledBackBy(clients, dm, workloadPodsRunning, logger);
    const migrationsConfigMap = await readMigrationsConfigMap(clients, dm);
    const migrateProgress = await readProgress(clients, dm, pods, logger);
    // Holder lookup, reconcile and claim run without an await between them, so
    // two workers can never both take the same target.
    const target = safeTarget(dm);
    const holder = target ? this.locks.holder(target) : undefined;
    const identity = identityLock(dm.status);
    const idHolder = identity ? this.locks.holder(identity) : undefined;
    const out = reconcile({
      dm,
      jobs,
      pods,
      now: this.now(),
      ...(holder && holder !== key ? { targetHolder: holder } : {}),
      ...(idHolder && idHolder !== key ? { databaseHolder: idHolder } : {}),
      config: this.jobConfig(),
      ...(workloadPodsRunning !== undefined ? { workloadPodsRunning } : {}),
      ...(workloadsScaledBackBy ? { workloadsScaledBackBy } : {}),
      ...(migrationsConfigMap ? { migrationsConfigMap } : {}),
      ...(migrateProgress ? { migrateProgress } : {}),
    });
    if (out.holdsTarget && target) this.locks.claim(target, key);
    // The database by its identity: claimed once known, unless another run holds it (then the row waits).
    const newIdentity = identityLock(out.status);
    if (out.holdsTarget && newIdentity) this.locks.claim(newIdentity, key);

    if (out.finalizer === 'add') await this.setFinalizer(key, cached, true);
    const status = await act(this.edgeFor(key, cached, dm, logger), dm, out, logger);
    if (out.finalizer === 'remove') await this.setFinalizer(key, cached, false);
    if (!out.holdsTarget || status.phase === 'Failed') this.release(key);
    recordReconcile(this.deps.metrics, this.labels(dm, status), out, status, this.now());
    if (isTerminal(status.phase)) await this.pruneOldRuns(namespace, jobs, logger);
    return out.requeueAfterMs;
  }

  /**
   * Deletes the finished Jobs of runs older than the last few (job-retention.ts),
   * their Pods with them (background propagation). Best effort: a failure is
   * logged and tried again at the next reconcile; it never changes a decision.
   */
  private async pruneOldRuns(namespace: string, jobs: V1Job[], logger: Logger): Promise<void> {
    for (const name of jobsToPrune(jobs)) {
      try {
        await this.deps.clients.batch.deleteNamespacedJob({
          name,
          namespace,
          propagationPolicy: 'Background',
        });
        logger.info({ job: name }, 'deleted the Job of an old run');
      } catch (err) {
        if (httpStatus(err) !== 404)
          logger.warn({ job: name, error: describeApiError(err) }, 'could not delete the Job of an old run');
      }
    }
  }

  /** Our own last write's resourceVersion when it is newer than the cache's (the informer lags behind it). */
  private newestResourceVersion(key: string, cached: DatabaseMigration): string | undefined {
    const mine = this.written.get(key);
    return mine &&
      mine.metadata.uid === cached.metadata.uid &&
      Number(mine.metadata.resourceVersion) > Number(cached.metadata.resourceVersion)
      ? mine.metadata.resourceVersion
      : cached.metadata.resourceVersion;
  }

  /** Adds or removes our finalizer (merge patch with the resourceVersion we read: a conflict retries). */
  private async setFinalizer(key: string, cached: DatabaseMigration, present: boolean): Promise<void> {
    const current = cached.metadata.finalizers ?? [];
    if (current.includes(FINALIZER) === present) return;
    const finalizers = present ? [...current, FINALIZER] : current.filter((f) => f !== FINALIZER);
    const resourceVersion = this.newestResourceVersion(key, cached);
    const updated = (await this.deps.clients.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: cached.metadata.namespace,
        plural: PLURAL,
        name: cached.metadata.name,
        body: { metadata: { finalizers, resourceVersion } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as DatabaseMigration;
    // The status write that follows must use this resourceVersion, not the cached one.
    this.written.set(key, updated);
  }

  private jobConfig(): JobBuildConfig {
    return {
      migratorImage: this.deps.config.migratorImage,
      imagePullPolicy: this.deps.config.migratorImagePullPolicy,
      jobDefaults: this.deps.config.jobDefaults,
      jobServiceAccount: this.deps.config.jobServiceAccount,
      allowedServiceAccounts: this.deps.config.allowedServiceAccounts,
    };
  }

  /** The edge's view of one resource: its status writes, Events and metrics. */
  private edgeFor(key: string, cached: DatabaseMigration, dm: DatabaseMigration, logger: Logger): Edge {
    return {
      clients: this.deps.clients,
      jobConfig: this.jobConfig(),
      now: this.now,
      writeStatus: async (next) => {
        if (!sameJson(next, this.current(key, cached).status)) await this.writeStatus(key, cached, next);
      },
      emit: (event) => this.emit(dm, event, logger),
      stepRefused: (status, step) => this.deps.metrics.stepFinished(this.labels(dm, status), step, false, 0),
    };
  }

  private async emit(
    dm: DatabaseMigration,
    action: Extract<Action, { kind: 'event' }>,
    logger: Logger,
  ): Promise<void> {
    logger[action.type === 'Warning' ? 'warn' : 'info']({ reason: action.reason }, action.message);
    await this.events.emit(dm, action.type, action.reason, action.message);
  }

  private async writeStatus(
    key: string,
    cached: DatabaseMigration,
    status: DatabaseMigrationStatus,
  ): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const resourceVersion = this.newestResourceVersion(key, cached);
    const body = { ...cached, metadata: { ...cached.metadata, resourceVersion }, status };
    const updated = (await this.deps.clients.custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
      body,
    })) as DatabaseMigration;
    this.written.set(key, updated);
  }

  private release(key: string): void {
    const released = this.locks.releaseAll(key);
    if (released.length === 0) return;
    for (const dm of this.allResources()) {
      const t = safeTarget(dm);
      if (t && released.includes(t) && dm.status?.phase === 'Queued')
        this.queue.add(keyOf(dm.metadata.namespace, dm.metadata.name));
    }
  }

  private labels(dm: DatabaseMigration, status: DatabaseMigrationStatus): ResourceLabels {
    return {
      namespace: dm.metadata.namespace,
      name: dm.metadata.name,
      database: scrubTarget(status.target ?? safeTarget(dm) ?? ''),
    };
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
