// The informer against a fake API server on loopback: the real client-node Watch and
// ListWatch run unmodified; only the watch endpoint's answers are scripted.
import { afterEach, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createInformer, type InformerEvent, type ResilientInformer } from './informer.js';

const logger = pino({ level: 'silent' });

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion: string };
}
const cm = (name: string, rv: string): Obj => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});

type WatchScript = (res: ServerResponse) => void;
const status =
  (code: number): WatchScript =>
  (res) => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code }));
  };
/** 200, then the given events, then the stream stays open. */
const stream =
  (...events: { type: string; object: Obj }[]): WatchScript =>
  (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    for (const e of events) res.write(JSON.stringify(e) + '\n');
  };

class FakeApiServer {
  readonly watches: URLSearchParams[] = [];
  private server: Server | undefined;
  private open: ServerResponse[] = [];
  constructor(private readonly scripts: WatchScript[]) {}

  async start(): Promise<KubeConfig> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      this.watches.push(url.searchParams);
      const script = this.scripts[this.watches.length - 1] ?? stream();
      this.open.push(res);
      script(res);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const port = (this.server.address() as AddressInfo).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // client-node refuses plain HTTP unless TLS verification is explicitly off.
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('createInformer', () => {
  let api: FakeApiServer | undefined;
  let informer: ResilientInformer<Obj> | undefined;
  afterEach(async () => {
    await informer?.stop();
    await api?.close();
    informer = undefined;
    api = undefined;
  });

  function setup(
    scripts: WatchScript[],
    lists: (() => Promise<{ items: Obj[]; metadata: { resourceVersion: string } }>)[],
  ) {
    api = new FakeApiServer(scripts);
    const events: [InformerEvent, string][] = [];
    const listCalls: (string | undefined)[] = [];
    return {
      events,
      listCalls,
      make: async () => {
        const kubeConfig = await api!.start();
        informer = createInformer<Obj>({
          kubeConfig,
          path: '/api/v1/namespaces/ns/configmaps',
          labelSelector: 'app=x',
          list: (selector) => {
            listCalls.push(selector);
            const next = lists[Math.min(listCalls.length, lists.length) - 1]!;
            return next();
          },
          onEvent: (type, obj) => events.push([type, obj.metadata.name]),
          logger,
          restartBackoff: { baseMs: 20, maxMs: 100 },
        });
        return informer;
      },
    };
  }

  it('keeps no managedFields in the cache, from the list or from the watch', async () => {
    const managed = (o: Obj): Obj =>
      ({
        ...o,
        metadata: {
          ...o.metadata,
          managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: {} }],
        },
      }) as Obj;
    const t = setup(
      [stream({ type: 'ADDED', object: managed(cm('b', '2')) }), stream()],
      [async () => ({ items: [managed(cm('a', '1'))], metadata: { resourceVersion: '1' } })],
    );
    const inf = await t.make();
    await inf.start();
    await waitFor(() => inf.get('b', 'ns') !== undefined);
    for (const name of ['a', 'b']) {
      expect(inf.get(name, 'ns')?.metadata).toEqual(cm(name, name === 'a' ? '1' : '2').metadata);
      expect(JSON.stringify(inf.get(name, 'ns'))).not.toContain('managedFields');
    }
  });

  it('restarts after a non-410 watch error and resumes from the last resourceVersion', async () => {
    const t = setup(
      [status(500), stream({ type: 'ADDED', object: cm('b', '2') })],
      [async () => ({ items: [cm('a', '1')], metadata: { resourceVersion: '1' } })],
    );
    const inf = await t.make();
    await inf.start();
    expect(inf.hasSynced()).toBe(true);
    await waitFor(() => inf.get('b', 'ns') !== undefined);

    expect(t.listCalls).toEqual(['app=x']); // the list got the selector, and no relist was needed
    expect(api!.watches).toHaveLength(2);
    for (const w of api!.watches) expect(w.get('labelSelector')).toBe('app=x');
    expect(api!.watches[1]?.get('resourceVersion')).toBe('1');
    expect(t.events).toEqual([
      ['add', 'a'],
      ['add', 'b'],
    ]);
    expect(
      inf
        .list('ns')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(inf.list().length).toBe(2);
  });

  it('asks for bookmarks and a server-side timeout; a quiet watch ended by the server resumes from the bookmark', async () => {
    const bookmark = { ...cm('', '9'), metadata: { resourceVersion: '9' } } as Obj;
    const t = setup(
      [
        (res) => {
          // A quiet namespace: no change, one bookmark, then the server's timeout ends the watch.
          stream({ type: 'BOOKMARK', object: bookmark })(res);
          setTimeout(() => res.end(), 20);
        },
        stream(),
      ],
      [async () => ({ items: [cm('a', '1')], metadata: { resourceVersion: '1' } })],
    );
    const inf = await t.make();
    await inf.start();
    await waitFor(() => api!.watches.length >= 2);
    for (const w of api!.watches) {
      expect(w.get('allowWatchBookmarks')).toBe('true');
      const timeout = Number(w.get('timeoutSeconds'));
      expect(timeout).toBeGreaterThanOrEqual(300);
      expect(timeout).toBeLessThan(600);
    }
    // Resumed from the bookmark's resourceVersion (not the list's, which would age into a 410): no relist.
    expect(api!.watches[1]?.get('resourceVersion')).toBe('9');
    expect(t.listCalls).toHaveLength(1);
    expect(t.events).toEqual([['add', 'a']]);
  });

  it('start() waits through failed lists until one succeeds', async () => {
    const t = setup(
      [stream()],
      [
        async () => {
          throw new Error('connection refused');
        },
        async () => ({ items: [cm('a', '1')], metadata: { resourceVersion: '1' } }),
      ],
    );
    const inf = await t.make();
    const started = inf.start();
    await waitFor(() => t.listCalls.length >= 1);
    expect(inf.hasSynced()).toBe(false);
    await started;
    expect(inf.hasSynced()).toBe(true);
    expect(t.listCalls).toEqual(['app=x', 'app=x']);
    expect(inf.get('a', 'ns')?.metadata.resourceVersion).toBe('1');
  });

  it('relists on 410 Gone and reports objects that vanished as deletes', async () => {
    const t = setup(
      [status(410), stream()],
      [
        async () => ({ items: [cm('a', '1'), cm('b', '1')], metadata: { resourceVersion: '1' } }),
        async () => ({ items: [cm('a', '5')], metadata: { resourceVersion: '5' } }),
      ],
    );
    const inf = await t.make();
    await inf.start();
    await waitFor(() => api!.watches.length >= 2);
    expect(t.listCalls).toHaveLength(2);
    expect(api!.watches[1]?.get('resourceVersion')).toBe('5');
    expect(t.events).toEqual([
      ['add', 'a'],
      ['add', 'b'],
      ['delete', 'b'],
      ['update', 'a'],
    ]);
    expect(inf.get('b', 'ns')).toBeUndefined();
  });

  it('keeps watching when an event handler throws', async () => {
    api = new FakeApiServer([
      stream({ type: 'ADDED', object: cm('bad', '2') }, { type: 'ADDED', object: cm('good', '3') }),
    ]);
    const kubeConfig = await api.start();
    const seen: string[] = [];
    informer = createInformer<Obj>({
      kubeConfig,
      path: '/api/v1/namespaces/ns/configmaps',
      list: async () => ({ items: [], metadata: { resourceVersion: '1' } }),
      onEvent: (_type, obj) => {
        if (obj.metadata.name === 'bad') throw new Error('handler bug');
        seen.push(obj.metadata.name);
      },
      logger,
    });
    await informer.start();
    await waitFor(() => seen.includes('good'));
    expect(informer.get('bad', 'ns')).toBeDefined();
  });

  it('stop() before the first sync rejects start() and stops retrying', async () => {
    const t = setup(
      [],
      [
        async () => {
          throw new Error('forbidden');
        },
      ],
    );
    const inf = await t.make();
    const started = inf.start();
    await waitFor(() => t.listCalls.length >= 1);
    await inf.stop();
    await expect(started).rejects.toThrow(/stopped before it synced/);
    const calls = t.listCalls.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(t.listCalls.length).toBe(calls);
  });

  it('replays the cache as updates when resync is on', async () => {
    api = new FakeApiServer([stream()]);
    const kubeConfig = await api.start();
    const events: string[] = [];
    informer = createInformer<Obj>({
      kubeConfig,
      path: '/api/v1/namespaces/ns/configmaps',
      list: async () => ({ items: [cm('a', '1')], metadata: { resourceVersion: '1' } }),
      onEvent: (type, obj) => events.push(`${type}:${obj.metadata.name}`),
      logger,
      resyncMs: 50,
    });
    await informer.start();
    await waitFor(() => events.filter((e) => e === 'update:a').length >= 2);
    expect(events[0]).toBe('add:a');
  });
});
