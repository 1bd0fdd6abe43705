import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { startHttpServer, type RunningHttpServer } from './http-server.js';

const logger = pino({ level: 'silent' });

describe('startHttpServer', () => {
  let server: RunningHttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(
    state: { live: boolean; ready: { ok: boolean; reason?: string } },
    registry = new Registry(),
  ) {
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      live: () => state.live,
      ready: () => state.ready,
      logger,
    });
    return `http://127.0.0.1:${server.port}`;
  }

  it('answers /healthz from live()', async () => {
    const state = { live: true, ready: { ok: true } };
    const base = await start(state);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    state.live = false;
    expect((await fetch(`${base}/healthz`)).status).toBe(500);
  });

  it('answers /readyz from ready(), with the reason when not ready', async () => {
    const state = {
      live: true,
      ready: { ok: false, reason: 'informers not synced' } as { ok: boolean; reason?: string },
    };
    const base = await start(state);
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('informers not synced');
    state.ready = { ok: true };
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('serves the registry on /metrics with its content type', async () => {
    const registry = new Registry();
    new Counter({ name: 'test_total', help: 'a test counter', registers: [registry] }).inc(3);
    const base = await start({ live: true, ready: { ok: true } }, registry);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    expect(await res.text()).toContain('test_total 3');
  });

  it('returns 404 for unknown paths and 405 for other methods', async () => {
    const base = await start({ live: true, ready: { ok: true } });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('answers 500 when metrics collection throws, and keeps serving', async () => {
    const registry = new Registry();
    registry.metrics = () => Promise.reject(new Error('collect failed'));
    const base = await start({ live: true, ready: { ok: true } }, registry);
    expect((await fetch(`${base}/metrics`)).status).toBe(500);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('rejects when the port is taken', async () => {
    await start({ live: true, ready: { ok: true } });
    await expect(
      startHttpServer({
        host: '127.0.0.1',
        port: server!.port,
        registry: new Registry(),
        live: () => true,
        ready: () => ({ ok: true }),
        logger,
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
