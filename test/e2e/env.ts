// What the e2e tests share: the settings test/e2e/up.sh writes (brought up on
// demand when a test file runs alone), and kubectl against that cluster.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const envFile = path.join(root, '.tmp/e2e/env.sh');

export function loadEnv(): void {
  if (!process.env.DBM_PG_PASSWORD_FILE || !existsSync(envFile)) {
    const r = spawnSync('bash', [path.join(root, 'test/e2e/up.sh')], {
      cwd: root,
      stdio: 'inherit',
      env: process.env,
    });
    if (r.status !== 0) throw new Error(`test/e2e/up.sh failed (exit ${r.status ?? r.signal})`);
  }
  for (const line of readFileSync(envFile, 'utf8').split('\n')) {
    const m = /^export (\w+)='(.*)'$/.exec(line);
    if (m?.[1] && m[2] !== undefined) process.env[m[1]] = m[2];
  }
}

export const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (test/e2e/up.sh writes it)`);
  return v;
};
export const kubectl = (args: string[], input?: string): string =>
  execFileSync(env('KUBECTL'), args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
export const apply = (obj: unknown): string => kubectl(['apply', '-f', '-'], JSON.stringify(obj));

export const password = (): string => readFileSync(env('DBM_PG_PASSWORD_FILE'), 'utf8').trim();

/** A connection to the e2e PostgreSQL, as the test (not the Pods) reaches it. */
export async function withDb<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({
    host: env('DBM_PG_TEST_HOST'),
    port: Number(env('DBM_PG_PORT')),
    user: env('DBM_PG_USER'),
    password: password(),
    database,
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
