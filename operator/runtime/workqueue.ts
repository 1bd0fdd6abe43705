// A rate-limited work queue with client-go's semantics (k8s.io/client-go/util/workqueue).
//
// Why these rules: the controller reconciles *keys* ("namespace/name"), not events. Many
// events for one object must collapse into one reconcile (dedupe), one object must never be
// reconciled by two workers at once (in-flight tracking), and an object that keeps failing
// must back off without starving the others (per-item exponential backoff) while a burst of
// failures across all objects must not hammer the API server (overall token bucket).

export interface WorkQueueOptions {
  /** First retry delay of addRateLimited; doubles per failure. Default 5 ms (client-go). */
  baseDelayMs?: number;
  /** Cap of the per-item backoff. Default 5 minutes (client-go is 1000 s; 5 min suits migrations). */
  maxDelayMs?: number;
  /** Overall rate of addRateLimited, in keys per second. Default 10 (client-go). */
  qps?: number;
  /** Overall burst of addRateLimited. Default 100 (client-go). */
  burst?: number;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
  /** Called whenever the number of keys waiting to be handed out changes (a gauge). */
  onDepthChange?: (depth: number) => void;
  /** Called on every get() with the seconds the key waited since it was added (a histogram). */
  onWait?: (seconds: number) => void;
}

interface Waiter {
  resolve: (key: string | undefined) => void;
}

interface Delayed {
  readyAt: number;
  timer: ReturnType<typeof setTimeout>;
}

export class WorkQueue {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly onDepthChange: ((depth: number) => void) | undefined;
  private readonly onWait: ((seconds: number) => void) | undefined;

  /** Keys ready to be handed out, in order. A key is here at most once. */
  private readonly queue: string[] = [];
  /** Keys that need processing: queued, or re-added while being processed. */
  private readonly dirty = new Set<string>();
  /** Keys handed out by get() and not yet done(). */
  private readonly processing = new Set<string>();
  /** When each dirty key was added, for onWait. */
  private readonly addedAt = new Map<string, number>();
  /** Keys waiting for addAfter/addRateLimited; one timer per key (earliest wins). */
  private readonly delayed = new Map<string, Delayed>();
  /** Per-key count of addRateLimited since the last forget(). */
  private readonly failures = new Map<string, number>();
  private readonly waiters: Waiter[] = [];
  private shuttingDown = false;

  // Token bucket (golang.org/x/time/rate semantics: a reservation may drive tokens negative,
  // and the caller waits until the bucket refills to zero).
  private tokens: number;
  private lastRefill: number;

  constructor(opts: WorkQueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 5 * 60 * 1000;
    this.qps = opts.qps ?? 10;
    this.burst = opts.burst ?? 100;
    this.now = opts.now ?? Date.now;
    this.onDepthChange = opts.onDepthChange;
    this.onWait = opts.onWait;
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new Error('WorkQueue: need 0 <= baseDelayMs <= maxDelayMs');
    }
    if (!(this.qps > 0) || !(this.burst >= 1)) {
      throw new Error('WorkQueue: need qps > 0 and burst >= 1');
    }
    this.tokens = this.burst;
    this.lastRefill = this.now();
  }

  /** Marks the key as needing processing. No-op if it already does or the queue is shutting down. */
  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, this.now());
    // A key being processed is queued again by done(), never handed to a second worker.
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.depthChanged();
    this.dispatch();
  }

  /** Adds the key after the delay. If the key is already waiting, the earlier time wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.readyAt <= readyAt) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    // A pending retry must not keep the process alive on its own.
    timer.unref?.();
    this.delayed.set(key, { readyAt, timer });
  }

  /** Adds the key after max(per-key exponential backoff, overall token-bucket delay). */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2 ** n overflows to Infinity for large n, which Math.min caps.
    const itemDelay = Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
    this.addAfter(key, Math.max(itemDelay, this.reserveToken()));
  }

  /** Clears the key's backoff: call it when the key was processed successfully. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * Resolves with the next key, which the caller owns until done(key). Resolves undefined
   * once the queue is shutting down and has no keys left.
   */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  /** Ends processing of the key; if it was re-added meanwhile, it is queued again now. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.depthChanged();
      this.dispatch();
    }
  }

  /** Number of keys ready to be handed out (not counting in-flight or delayed keys). */
  len(): number {
    return this.queue.length;
  }

  /**
   * Stops accepting keys and drops delayed ones. Keys already queued are still handed out
   * (so workers drain them); waiters with nothing to take get undefined at once.
   */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.dispatch();
    for (const w of this.waiters.splice(0)) w.resolve(undefined);
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Number of keys handed out and not yet done (for metrics/tests). */
  inFlight(): number {
    return this.processing.size;
  }

  private take(): string | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.processing.add(key);
    this.dirty.delete(key);
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    this.depthChanged();
    if (added !== undefined) this.onWait?.(Math.max(0, this.now() - added) / 1000);
    return key;
  }

  private dispatch(): void {
    while (this.waiters.length > 0 && this.queue.length > 0) {
      const w = this.waiters.shift();
      const key = this.take();
      w?.resolve(key);
    }
  }

  private depthChanged(): void {
    this.onDepthChange?.(this.queue.length);
  }

  /** Takes one token and returns how long the caller must wait for it, in ms. */
  private reserveToken(): number {
    const t = this.now();
    const elapsed = Math.max(0, t - this.lastRefill);
    this.lastRefill = t;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.qps) / 1000);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
}
