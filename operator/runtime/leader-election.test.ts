import { afterEach, describe, expect, it } from '@jest/globals';
import { ApiException, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { pino } from 'pino';
import { LeaderElector } from './leader-election.js';

const logger = pino({ level: 'silent' });

/**
 * An in-memory Lease store with the API server's rules that matter here: resourceVersion
 * bumps on every write, a replace with a stale resourceVersion is a 409, a create of an
 * existing name is a 409, a read of a missing one is a 404. Objects go through JSON like
 * on the wire (so MicroTimes come back as strings, as with the real client).
 */
class FakeLeaseStore {
  leases = new Map<string, V1Lease>();
  private rv = 0;
  writes = 0;

  client(): { api: CoordinationV1Api; setDown(down: boolean): void } {
    let down = false;
    const guard = () => {
      if (down) throw new ApiException(500, 'injected failure', {}, {});
    };
    const wire = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;
    const api = {
      readNamespacedLease: async ({ name, namespace }: { name: string; namespace: string }) => {
        guard();
        const l = this.leases.get(`${namespace}/${name}`);
        if (!l) throw new ApiException(404, 'not found', {}, {});
        return wire(l);
      },
      createNamespacedLease: async ({ namespace, body }: { namespace: string; body: V1Lease }) => {
        guard();
        const key = `${namespace}/${body.metadata?.name}`;
        if (this.leases.has(key)) throw new ApiException(409, 'already exists', {}, {});
        const stored = wire({ ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } });
        this.leases.set(key, stored);
        this.writes++;
        return wire(stored);
      },
      replaceNamespacedLease: async ({
        name,
        namespace,
        body,
      }: {
        name: string;
        namespace: string;
        body: V1Lease;
      }) => {
        guard();
        const key = `${namespace}/${name}`;
        const cur = this.leases.get(key);
        if (!cur) throw new ApiException(404, 'not found', {}, {});
        if (body.metadata?.resourceVersion !== cur.metadata?.resourceVersion) {
          throw new ApiException(409, 'conflict', {}, {});
        }
        const stored = wire({ ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } });
        this.leases.set(key, stored);
        this.writes++;
        return wire(stored);
      },
    };
    // The elector uses only these three methods; the rest of the generated class is irrelevant.
    return { api: api as unknown as CoordinationV1Api, setDown: (d) => (down = d) };
  }

  lease(): V1Lease | undefined {
    return this.leases.get('ops/dbm');
  }
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function candidate(store: FakeLeaseStore, identity: string) {
  const client = store.client();
  const events: string[] = [];
  const elector = new LeaderElector({
    coordinationApi: client.api,
    namespace: 'ops',
    name: 'dbm',
    identity,
    // Short periods keep the test quick; the test asserts order of events, not timings.
    leaseDurationSeconds: 1,
    renewDeadlineSeconds: 0.5,
    retryPeriodSeconds: 0.1,
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: () => events.push('stopped'),
    logger,
  });
  return { elector, events, setDown: client.setDown };
}

describe('LeaderElector', () => {
  const running: LeaderElector[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((e) => e.stop()));
  });

  it('elects exactly one of two candidates and keeps renewing', async () => {
    const store = new FakeLeaseStore();
    const a = candidate(store, 'a');
    const b = candidate(store, 'b');
    running.push(a.elector, b.elector);
    a.elector.start();
    b.elector.start();
    await waitFor(() => a.elector.isLeader() || b.elector.isLeader());
    const writesAtElection = store.writes;
    await sleep(600); // longer than the lease: renewals must keep it
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    const leader = a.elector.isLeader() ? a : b;
    expect(leader.events).toEqual(['started']);
    expect((a.elector.isLeader() ? b : a).events).toEqual([]);
    expect(store.writes).toBeGreaterThan(writesAtElection);
    expect(store.lease()?.spec?.holderIdentity).toBe(a.elector.isLeader() ? 'a' : 'b');
    expect(store.lease()?.spec?.leaseTransitions).toBe(0);
    // Times go out as MicroTime (microsecond precision), which the API server requires.
    expect(String(store.lease()?.spec?.renewTime)).toMatch(/\.\d{6}Z$/);
  });

  it('hands over at once when the leader stops (release clears the holder)', async () => {
    const store = new FakeLeaseStore();
    const a = candidate(store, 'a');
    running.push(a.elector);
    a.elector.start();
    await waitFor(() => a.elector.isLeader());
    const b = candidate(store, 'b');
    running.push(b.elector);
    b.elector.start();
    await sleep(300);
    expect(b.elector.isLeader()).toBe(false);

    await a.elector.stop();
    expect(a.elector.isLeader()).toBe(false);
    // A requested stop is not a loss: onStoppedLeading (where callers exit) is not called.
    expect(a.events).toEqual(['started']);
    expect(store.lease()?.spec?.holderIdentity).toBeUndefined();

    const stoppedAt = Date.now();
    await waitFor(() => b.elector.isLeader());
    // Well under the 1 s lease duration: b did not wait for the lease to expire.
    expect(Date.now() - stoppedAt).toBeLessThan(900);
    expect(b.events).toEqual(['started']);
    expect(store.lease()?.spec?.holderIdentity).toBe('b');
    expect(store.lease()?.spec?.leaseTransitions).toBe(1);
  });

  it('steps down once when renewals fail past the deadline; another takes over after expiry', async () => {
    const store = new FakeLeaseStore();
    const a = candidate(store, 'a');
    running.push(a.elector);
    a.elector.start();
    await waitFor(() => a.elector.isLeader());
    const b = candidate(store, 'b');
    running.push(b.elector);
    b.elector.start();

    a.setDown(true); // a can no longer reach the API server
    const downAt = Date.now();
    await waitFor(() => !a.elector.isLeader());
    expect(a.events).toEqual(['started', 'stopped']);
    expect(b.elector.isLeader()).toBe(false); // a gave up before its lease expired

    await waitFor(() => b.elector.isLeader());
    // b waited for the lease (1 s from its last observed change, which may precede downAt by a retry period).
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(700);
    expect(store.lease()?.spec?.holderIdentity).toBe('b');
    expect(store.lease()?.spec?.leaseTransitions).toBe(1);

    // a stays down (client-go semantics: no re-campaign by default), and says so only once.
    a.setDown(false);
    await sleep(300);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.events).toEqual(['started', 'stopped']);
  });

  it('steps down at once when it finds another holder in the lease', async () => {
    const store = new FakeLeaseStore();
    const a = candidate(store, 'a');
    running.push(a.elector);
    a.elector.start();
    await waitFor(() => a.elector.isLeader());
    // Someone (e.g. after a partition) wrote themselves in as holder.
    const l = store.lease()!;
    store.leases.set('ops/dbm', {
      ...l,
      metadata: { ...l.metadata, resourceVersion: '999' },
      spec: { ...l.spec, holderIdentity: 'intruder' },
    });
    await waitFor(() => !a.elector.isLeader(), 400);
    expect(a.events).toEqual(['started', 'stopped']);
  });

  it('does not take a lease that its holder keeps renewing', async () => {
    const store = new FakeLeaseStore();
    const holder = candidate(store, 'holder');
    running.push(holder.elector);
    holder.elector.start();
    await waitFor(() => holder.elector.isLeader());
    const c = candidate(store, 'c');
    running.push(c.elector);
    c.elector.start();
    await sleep(1500);
    expect(c.elector.isLeader()).toBe(false);
    expect(holder.elector.isLeader()).toBe(true);
  });

  it('re-campaigns after a loss when asked to', async () => {
    const store = new FakeLeaseStore();
    const client = store.client();
    const events: string[] = [];
    const e = new LeaderElector({
      coordinationApi: client.api,
      namespace: 'ops',
      name: 'dbm',
      identity: 'r',
      leaseDurationSeconds: 1,
      renewDeadlineSeconds: 0.5,
      retryPeriodSeconds: 0.1,
      onStartedLeading: () => events.push('started'),
      onStoppedLeading: () => events.push('stopped'),
      logger,
      reacquire: true,
    });
    running.push(e);
    e.start();
    await waitFor(() => e.isLeader());
    client.setDown(true);
    await waitFor(() => !e.isLeader());
    client.setDown(false);
    await waitFor(() => e.isLeader());
    expect(events).toEqual(['started', 'stopped', 'started']);
  });

  it('rejects inconsistent timings', () => {
    const store = new FakeLeaseStore();
    expect(
      () =>
        new LeaderElector({
          coordinationApi: store.client().api,
          namespace: 'ops',
          name: 'dbm',
          identity: 'x',
          leaseDurationSeconds: 10,
          renewDeadlineSeconds: 10,
          onStartedLeading: () => undefined,
          onStoppedLeading: () => undefined,
          logger,
        }),
    ).toThrow(/leaseDuration > renewDeadline/);
  });
});
