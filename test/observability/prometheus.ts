// A real Prometheus (Debian's `prometheus` package) on loopback for tests:
// scrapes the given targets every second, loads the given rule files, and
// answers PromQL over its HTTP API. Also usable by the e2e suite against a
// real operator (pass its metrics address as a target).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../lib/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface PrometheusOptions {
  /** host:port of each target, e.g. 127.0.0.1:8080 */
  targets: string[];
  job: string;
  /** Static target labels (as kubernetes_sd would add: namespace, pod, ...). */
  labels?: Record<string, string>;
  ruleFiles?: string[];
  /** Prometheus binary; default `prometheus` from PATH. */
  binary?: string;
}

export interface QueryResult {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string] }[] };
}

export interface RunningPrometheus {
  url: string;
  query(expr: string): Promise<QueryResult>;
  series(match: string): Promise<Record<string, string>[]>;
  rules(): Promise<{ name: string; health: string; lastError?: string; type: string }[]>;
  /** Resolves once every target has been scraped at least `n` more times. */
  waitForScrapes(n: number): Promise<void>;
  stop(): Promise<void>;
  logs(): string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'dbm-prometheus-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: opts.ruleFiles ?? [],
    scrape_configs: [
      {
        job_name: opts.job,
        // The metrics carry their own `namespace` label (the resource's), as with the chart's ServiceMonitor.
        honor_labels: true,
        static_configs: [{ targets: opts.targets, labels: opts.labels ?? {} }],
      },
    ],
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  let output = '';
  const child: ChildProcess = spawn(
    opts.binary ?? 'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (spawnError) {
      await stop();
      throw (spawnError as NodeJS.ErrnoException).code === 'ENOENT'
        ? new Error(
            "prometheus not found: install Debian's `prometheus` package (bash scripts/install-system-deps.sh)",
          )
        : spawnError;
    }
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready:\n${output}`);
    }
    await sleep(200);
  }

  const api = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    return (await res.json()) as T;
  };

  const scrapeCount = async (): Promise<number> => {
    const r = await api<QueryResult>('/api/v1/query', {
      query: `min(count_over_time(up{job="${opts.job}"}[1h]))`,
    });
    return Number(r.data?.result[0]?.value?.[1] ?? 0);
  };

  return {
    url,
    query: (expr) => api<QueryResult>('/api/v1/query', { query: expr }),
    async series(match) {
      const r = await api<{ status: string; data?: Record<string, string>[]; error?: string }>(
        '/api/v1/series',
        {
          'match[]': match,
          start: String(Date.now() / 1000 - 3600),
          end: String(Date.now() / 1000 + 60),
        },
      );
      if (r.status !== 'success') throw new Error(`series ${match}: ${r.error}`);
      return r.data ?? [];
    },
    async rules() {
      const res = await fetch(`${url}/api/v1/rules`);
      const body = (await res.json()) as {
        data: { groups: { rules: { name: string; health: string; lastError?: string; type: string }[] }[] };
      };
      return body.data.groups.flatMap((g) => g.rules);
    },
    async waitForScrapes(n) {
      const target = (await scrapeCount()) + n;
      const until = Date.now() + 30_000 + n * 2_000;
      while ((await scrapeCount()) < target) {
        if (Date.now() > until) throw new Error(`prometheus did not scrape ${n} more times:\n${output}`);
        await sleep(250);
      }
    },
    stop,
    logs: () => output,
  };
}
