// The local cluster for the cluster-level parts: KUBECONFIG (default: the
// checkout's .local-cluster, brought up by test/cluster/up.sh when absent),
// API clients, and a bounded-concurrency map for bulk API calls.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './postgres.js';
import { run } from './proc.js';

export function ensureCluster(): string {
  const kubeconfig = process.env.KUBECONFIG ?? path.join(ROOT, '.local-cluster/kubeconfig');
  if (!existsSync(kubeconfig)) {
    process.stderr.write('bench: no cluster: bringing up the local one (test/cluster/up.sh)\n');
    run('bash', [path.join(ROOT, 'test/cluster/up.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  process.env.KUBECONFIG = kubeconfig;
  return kubeconfig;
}

export async function pool<T, R>(
  items: readonly T[],
  width: number,
  fn: (t: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
