import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { WorkQueue } from './workqueue.js';

/** True if the promise settled by the time queued microtasks ran. */
async function settled<T>(p: Promise<T>): Promise<{ done: boolean; value?: T }> {
  let out: { done: boolean; value?: T } = { done: false };
  void p.then((value) => (out = { done: true, value }));
  await Promise.resolve();
  await Promise.resolve();
  return out;
}

describe('WorkQueue', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('hands out keys in order and dedupes a key that is already queued', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never hands out a key that is being processed; re-adding queues it again on done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    expect(await q.get()).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0); // still in flight: not handed to a second worker
    const next = q.get();
    expect((await settled(next)).done).toBe(false);
    q.done('a');
    expect(await next).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
    expect(q.inFlight()).toBe(0);
  });

  it('done() without a re-add does not queue the key again', async () => {
    const q = new WorkQueue();
    q.add('a');
    await q.get();
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('wakes a waiting get() when a key is added', async () => {
    const q = new WorkQueue();
    const p = q.get();
    expect((await settled(p)).done).toBe(false);
    q.add('x');
    expect(await p).toBe('x');
  });

  it('addAfter delays the key and keeps the earliest of two delays', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 1000);
    q.addAfter('a', 200);
    q.addAfter('a', 5000);
    expect(q.len()).toBe(0);
    jest.advanceTimersByTime(199);
    expect(q.len()).toBe(0);
    jest.advanceTimersByTime(1);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    jest.advanceTimersByTime(10_000);
    expect(q.len()).toBe(0); // the later timers were replaced, not left behind
  });

  it('addRateLimited backs off exponentially per key, capped, and forget() resets it', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50, qps: 1000, burst: 1000 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      q.addRateLimited('a');
      let waited = 0;
      while (q.len() === 0 && waited < 10_000) {
        jest.advanceTimersByTime(1);
        waited++;
      }
      delays.push(waited);
      q.done((await q.get()) as string);
    }
    expect(delays).toEqual([10, 20, 40, 50, 50]);
    expect(q.numRequeues('a')).toBe(5);
    expect(q.numRequeues('b')).toBe(0);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
  });

  it('applies the overall token bucket across keys', () => {
    // base 0: only the bucket delays. Burst 2 at 10 qps: third key waits 100 ms, fourth 200 ms.
    const q = new WorkQueue({ baseDelayMs: 0, maxDelayMs: 0, qps: 10, burst: 2 });
    q.addRateLimited('k1');
    q.addRateLimited('k2');
    q.addRateLimited('k3');
    q.addRateLimited('k4');
    expect(q.len()).toBe(2);
    jest.advanceTimersByTime(99);
    expect(q.len()).toBe(2);
    jest.advanceTimersByTime(1);
    expect(q.len()).toBe(3);
    jest.advanceTimersByTime(100);
    expect(q.len()).toBe(4);
  });

  it('shutDown resolves waiters with undefined, drains queued keys, then returns undefined', async () => {
    const q = new WorkQueue();
    const waiter = q.get();
    q.shutDown();
    expect(await waiter).toBeUndefined();

    const q2 = new WorkQueue();
    q2.add('a');
    q2.addAfter('later', 100);
    q2.shutDown();
    expect(q2.isShuttingDown()).toBe(true);
    q2.add('b'); // ignored
    expect(await q2.get()).toBe('a');
    expect(await q2.get()).toBeUndefined();
    jest.advanceTimersByTime(1000);
    expect(q2.len()).toBe(0); // delayed keys were dropped
  });

  it('reports depth and wait time', async () => {
    const depths: number[] = [];
    const waits: number[] = [];
    const q = new WorkQueue({ onDepthChange: (d) => depths.push(d), onWait: (s) => waits.push(s) });
    q.add('a');
    q.add('b');
    jest.advanceTimersByTime(1500);
    await q.get();
    expect(depths).toEqual([1, 2, 1]);
    expect(waits).toEqual([1.5]);
  });

  it('rejects nonsensical options', () => {
    expect(() => new WorkQueue({ qps: 0 })).toThrow(/qps/);
    expect(() => new WorkQueue({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(/baseDelayMs/);
  });
});
