// Jest globalSetup of the integration project: brings up (or reuses) the local
// Kubernetes control plane on loopback and points the tests at it.
// When KUBECONFIG is already set and DBM_USE_EXISTING_CLUSTER=1 (e.g. a kind
// cluster on a workstation), the local cluster is not started.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

interface ProjectConfig {
  rootDir: string;
}

export default async function globalSetup(
  _globalConfig: unknown,
  projectConfig: ProjectConfig,
): Promise<void> {
  if (process.env.DBM_USE_EXISTING_CLUSTER === '1' && process.env.KUBECONFIG) {
    return;
  }
  const repoRoot = projectConfig.rootDir;
  const result = spawnSync('bash', [path.join(repoRoot, 'test/cluster/up.sh')], {
    cwd: repoRoot,
    stdio: 'inherit',
    env: process.env,
  });
  if (result.error) {
    throw new Error(`could not run test/cluster/up.sh: ${result.error.message}`);
  }
  if (result.status !== 0) {
    throw new Error(
      `test/cluster/up.sh failed (exit ${result.status ?? `signal ${result.signal}`}); ` +
        'see its output above and the logs in .local-cluster/logs/',
    );
  }
  const kubeconfig = path.join(repoRoot, '.local-cluster', 'kubeconfig');
  if (!existsSync(kubeconfig)) {
    throw new Error(`test/cluster/up.sh succeeded but ${kubeconfig} does not exist`);
  }
  // Set on process.env, so the test workers inherit it.
  process.env.KUBECONFIG = kubeconfig;
}
