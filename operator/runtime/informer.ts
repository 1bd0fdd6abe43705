// A resilient informer: @kubernetes/client-node's makeInformer (ListWatch) plus the parts of
// client-go's reflector it lacks.
//
// What the library does (read in dist/cache.js of 2.0.1):
// - lists, then watches from the list's resourceVersion; reconnects by itself when a watch
//   ends normally or times out;
// - on 410 Gone (as an HTTP status or a watch ERROR event) it relists, emitting deletes for
//   objects that vanished;
// - on any other error (list failure, 403, 500, connection reset, DNS...) it emits 'error'
//   and STOPS. Nothing restarts it.
// - the label selector is added to the watch only: the list function must apply it itself.
//
// What this wrapper adds:
// - restart after any such error, with exponential backoff (client-go's reflector does the
//   same); a restart resumes the watch from the last resourceVersion, and a too-old one gets
//   410 and a relist from the library;
// - start() that resolves only once a full list has been applied to the cache (like
//   WaitForCacheSync), retrying failed lists;
// - handlers that cannot break the watch loop (the library swallows exceptions thrown inside
//   watch callbacks, or rejects its own start() with them);
// - an optional periodic resync that replays every cached object as an 'update' (the
//   library has none; a controller may also re-enqueue from list() itself).
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';

export type InformerEvent = 'add' | 'update' | 'delete';

/**
 * managedFields are often the larger half of an object (every writer, every field it
 * set) and nothing here reads them: drop them before an object enters the cache, as
 * controller-runtime users do with a cache transform, so the cache of thousands of
 * resources, Jobs and Pods holds only what the reconciler uses.
 */
export function withoutManagedFields<O>(obj: O): O {
  const meta = (obj as { metadata?: { managedFields?: unknown } } | null)?.metadata;
  if (meta && 'managedFields' in meta) delete meta.managedFields;
  return obj;
}

/**
 * How long a watch may go without a byte before the client drops it. The library's default
 * (30 s) ends every quiet watch twice a minute: with one watch per kind and namespace that
 * is a steady stream of reconnects, each from a resourceVersion that only ages (nothing
 * happens in a quiet namespace), until the API server answers 410 and the library relists.
 * With bookmarks (below) the server writes at least once a minute to every watch.
 */
export const WATCH_IDLE_TIMEOUT_MS = 150_000;
/** Server-side end of a watch: 5 to 10 minutes, spread so watches do not reconnect together (client-go's). */
export function watchTimeoutSeconds(random: () => number = Math.random): number {
  return Math.floor(300 * (1 + random()));
}

/**
 * The library's Watch, asking for bookmarks (the API server then moves every watch's
 * resourceVersion forward about once a minute, so a reconnect after a quiet spell resumes
 * instead of relisting), ended by the server at a spread timeout, with every object of
 * every event stripped before the cache sees it.
 */
export class LeanWatch extends Watch {
  constructor(config: KubeConfig) {
    super(config);
    // Private in the library's types; its default is the 30 s described above.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_IDLE_TIMEOUT_MS;
  }

  override watch(
    ...[path, queryParams, callback, done]: Parameters<Watch['watch']>
  ): ReturnType<Watch['watch']> {
    return super.watch(
      path,
      { allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds(), ...queryParams },
      (phase, apiObj: unknown, watchObj?: unknown) => callback(phase, withoutManagedFields(apiObj), watchObj),
      done,
    );
  }
}

export interface ResilientInformer<T> {
  /** Starts list+watch; resolves after the first list has been applied to the cache. Rejects if stop() comes first. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Cached objects, all or of one namespace. */
  list(namespace?: string): T[];
  get(name: string, namespace?: string): T | undefined;
  hasSynced(): boolean;
}

type Named = { metadata?: { name?: string; namespace?: string } };

export interface InformerOptions<T extends Named> {
  kubeConfig: KubeConfig;
  path: string;
  list: (labelSelector?: string) => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  onEvent: (type: InformerEvent, obj: T) => void;
  logger: Logger;
  restartBackoff?: {
    /** First restart delay. Default 800 ms (client-go's reflector). */
    baseMs?: number;
    /** Cap. Default 30 s (client-go's reflector). */
    maxMs?: number;
    /** Forget past failures after this long without one. Default 2 min (client-go). */
    resetAfterMs?: number;
  };
  /** If > 0, replay every cached object as an 'update' this often. Default 0 (off). */
  resyncMs?: number;
  /** Clock in ms, injectable for tests. */
  now?: () => number;
}

function describeError(err: unknown): { code?: number; message: string } {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown; message?: unknown; name?: unknown };
    const code =
      typeof e.statusCode === 'number' ? e.statusCode : typeof e.code === 'number' ? e.code : undefined;
    const message = typeof e.message === 'string' ? e.message : String(err);
    return code === undefined ? { message } : { code, message };
  }
  return { message: String(err) };
}

export function createInformer<T extends Named>(opts: InformerOptions<T>): ResilientInformer<T> {
  const log = opts.logger.child({ module: 'informer', path: opts.path, labelSelector: opts.labelSelector });
  const now = opts.now ?? Date.now;
  const baseMs = opts.restartBackoff?.baseMs ?? 800;
  const maxMs = opts.restartBackoff?.maxMs ?? 30_000;
  const resetAfterMs = opts.restartBackoff?.resetAfterMs ?? 120_000;

  let synced = false;
  let stopped = true;
  let listedSinceStart = false;
  let failures = 0;
  let lastFailureAt = 0;
  let restartTimer: ReturnType<typeof setTimeout> | undefined;
  let resyncTimer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> | undefined;
  let syncWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    // The same selector as the watch: otherwise the cache would hold objects the watch never
    // updates, and relists would emit spurious adds/deletes.
    const result = await opts.list(opts.labelSelector);
    listedSinceStart = true;
    // A successful list means the API server is reachable again.
    failures = 0;
    // T is only required to have metadata.name/namespace; the library's KubernetesObject
    // asks for the same fields with stricter types, so this is a widening, not a lie.
    for (const item of result.items) withoutManagedFields(item);
    return result as unknown as KubernetesListObject<KubernetesObject>;
  };

  // What makeInformer builds, with the lean Watch.
  const informer = new ListWatch<KubernetesObject>(
    opts.path,
    new LeanWatch(opts.kubeConfig),
    listFn,
    false,
    opts.labelSelector,
  );

  const deliver = (type: InformerEvent) => (obj: KubernetesObject) => {
    failures = 0; // events flowing: the watch is healthy
    try {
      opts.onEvent(type, obj as unknown as T);
    } catch (err) {
      log.error(
        { err, event: type, name: obj.metadata?.name, namespace: obj.metadata?.namespace },
        'event handler threw',
      );
    }
  };
  informer.on('add', deliver('add'));
  informer.on('update', deliver('update'));
  informer.on('delete', deliver('delete'));

  const markSynced = () => {
    if (synced) return;
    synced = true;
    log.info({ objects: informer.list().length }, 'informer synced');
    for (const w of syncWaiters.splice(0)) w.resolve();
  };

  const scheduleRestart = (err: unknown) => {
    if (stopped || restartTimer) return;
    const t = now();
    if (t - lastFailureAt > resetAfterMs) failures = 0;
    lastFailureAt = t;
    const delay = Math.min(baseMs * 2 ** failures, maxMs);
    failures++;
    log.warn({ error: describeError(err), restartInMs: delay }, 'list/watch failed; restarting');
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void run();
    }, delay);
  };

  // Errors after which the library has stopped itself.
  informer.on('error', (err: unknown) => {
    if (stopped) return; // our own stop() aborts the watch, which surfaces as an error
    scheduleRestart(err);
  });

  const run = async (): Promise<void> => {
    if (stopped) return;
    listedSinceStart = false;
    const p = informer.start();
    running = p;
    try {
      // Resolves once the list is applied and the watch request is made, or after the
      // library reported an error (and stopped); throws on errors outside its handling.
      await p;
    } catch (err) {
      scheduleRestart(err);
    } finally {
      if (running === p) running = undefined;
    }
    if (!stopped && listedSinceStart) markSynced();
  };

  return {
    start(): Promise<void> {
      if (!stopped) {
        return synced
          ? Promise.resolve()
          : new Promise((resolve, reject) => syncWaiters.push({ resolve, reject }));
      }
      stopped = false;
      failures = 0;
      const ready = new Promise<void>((resolve, reject) => {
        if (synced) resolve();
        else syncWaiters.push({ resolve, reject });
      });
      if (opts.resyncMs && opts.resyncMs > 0) {
        resyncTimer = setInterval(() => {
          if (!synced || stopped) return;
          for (const obj of informer.list()) deliver('update')(obj);
        }, opts.resyncMs);
        resyncTimer.unref?.();
      }
      void run();
      return ready;
    },

    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = undefined;
      if (resyncTimer) clearInterval(resyncTimer);
      resyncTimer = undefined;
      const waiters = syncWaiters;
      syncWaiters = [];
      for (const w of waiters) w.reject(new Error(`informer for ${opts.path} stopped before it synced`));
      // A start() in flight may still be listing; let it settle so it cannot reopen a watch
      // after we aborted the current one.
      // Bounded, so a hung list cannot hold up shutdown.
      if (running) {
        let t: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          running.catch(() => undefined),
          new Promise<void>((resolve) => (t = setTimeout(resolve, 5_000))),
        ]);
        clearTimeout(t);
      }
      await informer.stop();
      log.info('informer stopped');
    },

    list(namespace?: string): T[] {
      return informer.list(namespace) as unknown as T[];
    },

    get(name: string, namespace?: string): T | undefined {
      return informer.get(name, namespace) as unknown as T | undefined;
    },

    hasSynced(): boolean {
      return synced;
    },
  };
}
