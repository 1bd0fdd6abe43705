import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { startHttpServer, type RunningHttpServer } from './http-server.js';
import { MetricsAuth, type ReviewedUser, type Reviewer } from './metrics-auth.js';

/** A fake API server: tokens it knows, users allowed to get /metrics, and a count of reviews. */
function fakeReviewer(tokens: Record<string, string>, allowed: Set<string>) {
  const calls = { tokenReviews: 0, accessReviews: 0, lastAccess: undefined as unknown };
  let failing = false;
  const reviewer: Reviewer = {
    async authenticate(token) {
      calls.tokenReviews++;
      if (failing) throw new Error('connect ECONNREFUSED');
      const username = tokens[token];
      return username ? { username, groups: ['system:serviceaccounts'] } : undefined;
    },
    async authorize(user: ReviewedUser, path, verb) {
      calls.accessReviews++;
      calls.lastAccess = { user, path, verb };
      return allowed.has(user.username);
    },
  };
  return { reviewer, calls, fail: (v: boolean) => (failing = v) };
}

const PROM = 'system:serviceaccount:monitoring:prometheus';

describe('MetricsAuth', () => {
  it('401 without a Bearer token, without asking the API server', async () => {
    const f = fakeReviewer({}, new Set());
    const auth = new MetricsAuth({ reviewer: f.reviewer });
    for (const h of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b'])
      expect((await auth.check(h)).status).toBe(401);
    expect(f.calls.tokenReviews).toBe(0);
  });

  it('401 for a token the API server does not authenticate, 403 when not allowed, 200 when allowed', async () => {
    const f = fakeReviewer({ good: PROM, other: 'system:serviceaccount:apps:app' }, new Set([PROM]));
    const auth = new MetricsAuth({ reviewer: f.reviewer });
    expect(await auth.check('Bearer nope')).toEqual({ status: 401, reason: 'the token is not valid' });
    expect(await auth.check('Bearer other')).toEqual({
      status: 403,
      reason: expect.stringContaining('system:serviceaccount:apps:app may not get /metrics'),
    });
    expect(await auth.check('bearer good')).toEqual({ status: 200, user: PROM });
    expect(f.calls.lastAccess).toEqual({
      user: { username: PROM, groups: ['system:serviceaccounts'] },
      path: '/metrics',
      verb: 'get',
    });
  });

  it('keeps answers briefly: allowed for allowTtlMs, refused for denyTtlMs', async () => {
    let now = 0;
    const f = fakeReviewer({ good: PROM, other: 'x' }, new Set([PROM]));
    const auth = new MetricsAuth({
      reviewer: f.reviewer,
      now: () => now,
      allowTtlMs: 60_000,
      denyTtlMs: 10_000,
    });
    await auth.check('Bearer good');
    await auth.check('Bearer other');
    expect(f.calls.tokenReviews).toBe(2);
    now = 9_000;
    await auth.check('Bearer good');
    await auth.check('Bearer other');
    expect(f.calls.tokenReviews).toBe(2);
    now = 11_000;
    await auth.check('Bearer good');
    await auth.check('Bearer other');
    expect(f.calls.tokenReviews).toBe(3);
    now = 61_000;
    await auth.check('Bearer good');
    expect(f.calls.tokenReviews).toBe(4);
  });

  it('is bounded: the oldest tokens are forgotten first', async () => {
    const tokens = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`t${i}`, `u${i}`]));
    const f = fakeReviewer(tokens, new Set(Object.values(tokens)));
    const auth = new MetricsAuth({ reviewer: f.reviewer, maxEntries: 3 });
    for (let i = 0; i < 10; i++) await auth.check(`Bearer t${i}`);
    expect(auth.size).toBe(3);
    const before = f.calls.tokenReviews;
    await auth.check('Bearer t9');
    expect(f.calls.tokenReviews).toBe(before);
    await auth.check('Bearer t0');
    expect(f.calls.tokenReviews).toBe(before + 1);
  });

  it('shares one review between concurrent scrapes with one token', async () => {
    const f = fakeReviewer({ good: PROM }, new Set([PROM]));
    const auth = new MetricsAuth({ reviewer: f.reviewer });
    const all = await Promise.all([1, 2, 3].map(() => auth.check('Bearer good')));
    expect(all.map((d) => d.status)).toEqual([200, 200, 200]);
    expect(f.calls.tokenReviews).toBe(1);
  });

  it('500 when the API server cannot review, not remembered, never echoing the token', async () => {
    const f = fakeReviewer({ 'secret-token': PROM }, new Set([PROM]));
    const auth = new MetricsAuth({ reviewer: f.reviewer });
    f.fail(true);
    const d = await auth.check('Bearer secret-token');
    expect(d.status).toBe(500);
    expect(JSON.stringify(d)).not.toContain('secret-token');
    f.fail(false);
    expect((await auth.check('Bearer secret-token')).status).toBe(200);
  });
});

describe('/metrics behind MetricsAuth', () => {
  let server: RunningHttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('401 / 403 / 200 on /metrics; the probes stay open', async () => {
    const registry = new Registry();
    new Counter({ name: 'test_total', help: 'a test counter', registers: [registry] }).inc();
    const f = fakeReviewer({ good: PROM, other: 'someone' }, new Set([PROM]));
    const auth = new MetricsAuth({ reviewer: f.reviewer });
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      live: () => true,
      ready: () => ({ ok: true }),
      logger: pino({ level: 'silent' }),
      authorize: (h) => auth.check(h),
    });
    const base = `http://127.0.0.1:${server.port}`;
    const get = (path: string, token?: string) =>
      fetch(`${base}${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    const none = await get('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.text()).not.toContain('test_total');
    expect((await get('/metrics', 'bad')).status).toBe(401);
    expect((await get('/metrics', 'other')).status).toBe(403);
    const ok = await get('/metrics', 'good');
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('test_total 1');
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
  });
});
