// Jest globalTeardown of the integration project: leaves the local cluster
// running (the next run reuses it in seconds) unless DBM_CLUSTER_TEARDOWN=1;
// `npm test` tears it down at the end.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

interface ProjectConfig {
  rootDir: string;
}

export default async function globalTeardown(
  _globalConfig: unknown,
  projectConfig: ProjectConfig,
): Promise<void> {
  if (process.env.DBM_CLUSTER_TEARDOWN !== '1' || process.env.DBM_USE_EXISTING_CLUSTER === '1') {
    return;
  }
  const repoRoot = projectConfig.rootDir;
  const result = spawnSync('bash', [path.join(repoRoot, 'test/cluster/down.sh')], {
    cwd: repoRoot,
    stdio: 'inherit',
    env: process.env,
  });
  if (result.error || result.status !== 0) {
    throw new Error(`test/cluster/down.sh failed: ${result.error?.message ?? `exit ${result.status}`}`);
  }
}
