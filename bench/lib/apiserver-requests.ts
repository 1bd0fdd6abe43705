// The API server's own count of the requests it served (apiserver_request_total
// on its /metrics), so the bench can say how many LISTs and WATCHes a client
// made over a window from the server's point of view, not the client's.
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** Requests served so far, by `${verb} ${resource}` (e.g. "LIST pods"), summed over the other labels. */
export type RequestCounts = Map<string, number>;

export async function apiserverRequests(kc: KubeConfig): Promise<RequestCounts> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL('/metrics', server);
  const text = await new Promise<string>((resolve, reject) => {
    const req = https.get(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(body)
          : reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`)),
      );
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url.href} timed out`)));
  });
  const out: RequestCounts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
    const resource = /[{,]resource="([^"]*)"/.exec(line)?.[1] ?? '';
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const key = `${verb} ${resource}`;
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

/** The requests of `verb` served between two snapshots, in total and for the given resources. */
export function requestsBetween(
  before: RequestCounts,
  after: RequestCounts,
  verb: string,
  resources?: readonly string[],
): number {
  let n = 0;
  for (const [key, v] of after) {
    const [kVerb, kResource] = key.split(' ') as [string, string];
    if (kVerb !== verb || (resources && !resources.includes(kResource))) continue;
    n += v - (before.get(key) ?? 0);
  }
  return n;
}
