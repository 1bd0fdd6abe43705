// The operator's HTTP endpoints for the kubelet probes and Prometheus:
//   GET /healthz  liveness: 200 while the process is healthy (live()), else 500
//   GET /readyz   readiness: 200 when ready() says ok, else 503 with the reason
//   GET /metrics  the prom-client registry in its exposition format; with
//                 `authorize`, only for a Bearer token it allows (401/403 else)
// Plain node:http: three routes do not justify a web framework.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port (tests); the chosen port is returned. */
  port: number;
  registry: Registry;
  live: () => boolean;
  ready: () => { ok: boolean; reason?: string };
  logger: Logger;
  /**
   * Decides who may read /metrics from the Authorization header (metrics-auth.ts);
   * unset, /metrics is open. The probes stay open either way: the kubelet sends no token.
   */
  authorize?: (authorization: string | undefined) => Promise<MetricsDecision>;
}

/** What authorize answers: 200 lets the scrape through; 401, 403 and 500 are sent with the reason. */
export type MetricsDecision = { status: 200 } | { status: 401 | 403 | 500; reason: string };

export interface RunningHttpServer {
  port: number;
  close(): Promise<void>;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const log = opts.logger.child({ module: 'http' });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'method not allowed\n');
      return;
    }
    switch (path) {
      case '/healthz':
        if (opts.live()) send(res, 200, 'ok\n');
        else send(res, 500, 'not live\n');
        return;
      case '/readyz': {
        const r = opts.ready();
        if (r.ok) send(res, 200, 'ok\n');
        else send(res, 503, `not ready: ${r.reason ?? 'unknown'}\n`);
        return;
      }
      case '/metrics': {
        if (opts.authorize) {
          const d = await opts.authorize(req.headers.authorization);
          if (d.status !== 200) {
            if (d.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
            if (d.status === 500) log.warn({ reason: d.reason }, 'metrics authorization failed');
            send(
              res,
              d.status,
              `${d.status === 401 ? 'Unauthorized' : d.status === 403 ? 'Forbidden' : 'Internal Server Error'}: ${d.reason}\n`,
            );
            return;
          }
        }
        send(res, 200, await opts.registry.metrics(), opts.registry.contentType);
        return;
      }
      default:
        send(res, 404, 'not found\n');
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A probe or scrape failing must never take the process down; report it and answer 500.
      log.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  // Probes and scrapes are short; don't let idle keep-alive sockets delay shutdown for long.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'http server error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ host: opts.host, port }, 'http server listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Idle keep-alive connections would otherwise hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}
