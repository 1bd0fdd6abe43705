// Leader election on a coordination.k8s.io/v1 Lease, following client-go's
// tools/leaderelection (which @kubernetes/client-node does not provide):
//
// - A candidate takes the lease when nobody holds it, or when the holder has not renewed it
//   for leaseDurationSeconds. "Not renewed" is judged, as in client-go, by *our* clock from
//   the moment we last saw the lease record change, never by comparing the holder's
//   renewTime with our clock: clock skew between nodes must not make two leaders.
// - Every write is a replace carrying the resourceVersion we read, so the API server's
//   optimistic concurrency decides races: a 409 Conflict means someone else won the round.
// - The leader renews every retryPeriod. If no renewal has succeeded for renewDeadline (which
//   is shorter than the lease duration) it steps down and calls onStoppedLeading once, before
//   any other candidate can consider the lease expired.
// - stop() releases the lease (empty holderIdentity) so a successor takes over at once
//   instead of waiting out the lease duration.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaderElectorOptions {
  coordinationApi: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  /** How long a lease is valid without renewal. Default 15 s. */
  leaseDurationSeconds?: number;
  /** How long the leader keeps retrying a failed renewal before stepping down. Default 10 s. */
  renewDeadlineSeconds?: number;
  /** Interval between attempts to acquire or renew. Default 2 s. */
  retryPeriodSeconds?: number;
  onStartedLeading: () => void;
  /**
   * Called once per term when leadership is lost involuntarily (renewal deadline passed, or
   * another holder found in the lease). Not called by stop().
   */
  onStoppedLeading: () => void;
  logger: Logger;
  now?: () => Date;
  /**
   * After losing leadership, campaign again (true) or stay stopped (false, client-go's
   * behaviour, where the process is expected to exit and be restarted). Default false.
   */
  reacquire?: boolean;
}

/** The subset of CoordinationV1Api used here, so tests can fake it. */
type LeaseApi = Pick<
  CoordinationV1Api,
  'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'
>;

function httpStatus(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}

/** client-node 2.0.1 deserializes MicroTime fields as strings despite the declared type. */
function toMicroTime(d: Date): V1MicroTime {
  return new V1MicroTime(d.getTime());
}

export class LeaderElector {
  private readonly api: LeaseApi;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  private running = false;
  private leading = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped on every state change so a late API answer from an old round is ignored. */
  private epoch = 0;
  private inFlight: Promise<void> | undefined;

  /** The lease record as last read, and when (by our clock) it last changed. */
  private observedKey: string | undefined;
  private observedAt = 0;
  private observedHolder: string | undefined;

  constructor(private readonly o: LeaderElectorOptions) {
    this.api = o.coordinationApi;
    this.log = o.logger.child({
      module: 'leader-election',
      lease: `${o.namespace}/${o.name}`,
      identity: o.identity,
    });
    this.now = o.now ?? (() => new Date());
    this.leaseDurationMs = (o.leaseDurationSeconds ?? 15) * 1000;
    this.renewDeadlineMs = (o.renewDeadlineSeconds ?? 10) * 1000;
    this.retryPeriodMs = (o.retryPeriodSeconds ?? 2) * 1000;
    // client-go's validation: the leader must give up before others may take over.
    if (!(
      this.leaseDurationMs > this.renewDeadlineMs &&
      this.renewDeadlineMs > this.retryPeriodMs &&
      this.retryPeriodMs > 0
    )) {
      throw new Error('LeaderElector: need leaseDuration > renewDeadline > retryPeriod > 0');
    }
  }

  /** Starts campaigning in the background. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops campaigning and, if we hold the lease, releases it. Stop the controller's work
   * before calling this, so the successor never overlaps with us. onStoppedLeading is NOT
   * called: it reports an involuntary loss (callers typically exit the process there), and
   * here the caller itself asked to stop.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.epoch++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Let an attempt that is already talking to the API server finish, so our release is
    // not overtaken by a renewal sent before it.
    // Bounded: a hung request must not hold up shutdown.
    if (this.inFlight) {
      let t: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.inFlight.catch(() => undefined),
        new Promise<void>((resolve) => (t = setTimeout(resolve, this.renewDeadlineMs))),
      ]);
      clearTimeout(t);
    }
    this.stepDown('stopped', false);
    // Also when the last round acquired the lease but was ignored because we were stopping.
    if (this.observedHolder === this.o.identity) await this.release();
  }

  isLeader(): boolean {
    return this.leading;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    // Jitter (as client-go's JitterFactor 1.2) keeps candidates from retrying in lockstep.
    const jittered = delayMs === 0 ? 0 : delayMs * (1 + Math.random() * 0.2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const p = this.tick();
      this.inFlight = p;
      void p.finally(() => {
        if (this.inFlight === p) this.inFlight = undefined;
      });
    }, jittered);
  }

  private async tick(): Promise<void> {
    const epoch = this.epoch;
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.log.warn({ err }, this.leading ? 'failed to renew lease' : 'failed to acquire lease');
    }
    if (epoch !== this.epoch || !this.running) return; // stopped or stepped down meanwhile
    if (ok) {
      if (!this.leading) {
        this.leading = true;
        this.log.info('became leader');
        this.callSafely(this.o.onStartedLeading, 'onStartedLeading');
      }
      this.armRenewDeadline();
    } else if (this.leading && this.heldByOther()) {
      // Someone else holds the lease: we are definitely not leader any more.
      this.stepDown('lease taken by another holder');
      this.afterLoss();
      return;
    }
    this.schedule(this.retryPeriodMs);
  }

  /** Steps down if no renewal succeeds within renewDeadline; independent of hung requests. */
  private armRenewDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      if (!this.leading || !this.running) return;
      this.stepDown(`lease not renewed within ${this.renewDeadlineMs / 1000}s`);
      this.afterLoss();
    }, this.renewDeadlineMs);
  }

  private stepDown(reason: string, notify = true): void {
    if (!this.leading) return;
    this.leading = false;
    this.epoch++;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (!notify) {
      this.log.info({ reason }, 'stopped leading');
      return;
    }
    this.log.warn({ reason }, 'lost leadership');
    this.callSafely(this.o.onStoppedLeading, 'onStoppedLeading');
  }

  private afterLoss(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.o.reacquire) this.schedule(this.retryPeriodMs);
    else this.running = false;
  }

  private callSafely(fn: () => void, name: string): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `${name} threw`);
    }
  }

  private heldByOther(): boolean {
    return !!this.observedHolder && this.observedHolder !== this.o.identity;
  }

  /** Records the lease as read; resets the expiry clock only when the record changed. */
  private observe(lease: V1Lease): void {
    const s = lease.spec ?? {};
    // renewTime arrives as a string (see toMicroTime); JSON.stringify handles both forms.
    const key = JSON.stringify([s.holderIdentity, s.renewTime, s.leaseTransitions, s.leaseDurationSeconds]);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAt = this.now().getTime();
    }
    this.observedHolder = s.holderIdentity || undefined;
  }

  /** One round: true if we hold the lease after it. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.o;
    const now = this.now();
    const leaseDurationSeconds = Math.ceil(this.leaseDurationMs / 1000);

    let current: V1Lease;
    try {
      current = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: toMicroTime(now),
          renewTime: toMicroTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        const created = await this.api.createNamespacedLease({ namespace, body });
        this.observe(created);
        return true;
      } catch (createErr) {
        if (httpStatus(createErr) === 409) return false; // another candidate created it first
        throw createErr;
      }
    }

    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity || undefined;
    const durationMs = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    const expired = this.observedAt + durationMs <= now.getTime();
    if (holder && holder !== identity && !expired) return false;

    const takingOver = holder !== identity;
    const body: V1Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds,
        renewTime: toMicroTime(now),
        acquireTime:
          takingOver || !spec.acquireTime ? toMicroTime(now) : toMicroTime(new Date(spec.acquireTime)),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
      },
    };
    try {
      // body.metadata.resourceVersion is the one we read: the server rejects the write with
      // 409 if anybody changed the lease since.
      const updated = await this.api.replaceNamespacedLease({ name, namespace, body });
      this.observe(updated);
      if (takingOver) this.log.info({ previousHolder: holder ?? null }, 'acquired lease');
      return true;
    } catch (err) {
      if (httpStatus(err) === 409) return false;
      throw err;
    }
  }

  /** Gives the lease up so a successor need not wait for it to expire. */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.o;
    try {
      const current = await this.api.readNamespacedLease({ name, namespace });
      if (current.spec?.holderIdentity !== identity) return;
      const now = this.now();
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: undefined,
            // As client-go: a 1 s duration lets candidates that don't notice the empty holder
            // still take over almost at once.
            leaseDurationSeconds: 1,
            renewTime: toMicroTime(now),
            acquireTime: toMicroTime(now),
          },
        },
      });
      this.log.info('released lease');
    } catch (err) {
      // Not fatal: the lease simply expires after leaseDurationSeconds.
      this.log.warn({ err }, 'failed to release lease');
    }
  }
}
