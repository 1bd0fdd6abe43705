// Jest globalSetup of the e2e project: brings up (or reuses) the cluster, the
// node, the images, PostgreSQL and the operator (test/e2e/up.sh) and exports
// the settings it wrote for the test workers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export default async function globalSetup(_g: unknown, project: { rootDir: string }): Promise<void> {
  const root = project.rootDir;
  const r = spawnSync('bash', [path.join(root, 'test/e2e/up.sh')], {
    cwd: root,
    stdio: 'inherit',
    env: process.env,
  });
  if (r.status !== 0)
    throw new Error(`test/e2e/up.sh failed (exit ${r.status ?? r.signal}); see its output above`);
  for (const line of readFileSync(path.join(root, '.tmp/e2e/env.sh'), 'utf8').split('\n')) {
    const m = /^export (\w+)='(.*)'$/.exec(line);
    if (m?.[1] && m[2] !== undefined) process.env[m[1]] = m[2];
  }
}
