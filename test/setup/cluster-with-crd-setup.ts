// Jest globalSetup of the `static` project: the chart tests dry-run their
// manifests on the real API server, so they need the local cluster and the CRD.
// (Global setups are loaded without jest's module mapping, hence no import of
// global-setup.ts: both call the same scripts.)
import { spawnSync } from 'node:child_process';
import path from 'node:path';

function run(root: string, what: string, script: string, args: string[] = []): void {
  const r = spawnSync('bash', ['-c', script, ...args], { cwd: root, stdio: 'inherit', env: process.env });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}); see the output above`);
}

export default async function globalSetup(
  _globalConfig: unknown,
  projectConfig: { rootDir: string },
): Promise<void> {
  const root = projectConfig.rootDir;
  if (!(process.env.DBM_USE_EXISTING_CLUSTER === '1' && process.env.KUBECONFIG)) {
    run(root, 'test/cluster/up.sh', 'bash test/cluster/up.sh');
    process.env.KUBECONFIG = path.join(root, '.local-cluster', 'kubeconfig');
  }
  const crd = path.join(root, 'crds/generated/databasemigrations.dbmigrate.io.yaml');
  run(
    root,
    'applying the CRD',
    'source scripts/tools.sh >/dev/null && "$KUBECTL" apply --server-side --force-conflicts -f "$0"',
    [crd],
  );
}
