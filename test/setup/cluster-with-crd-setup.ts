// Jest globalSetup of the `static` project: the chart tests dry-run their
// manifests on the real API server, so they need the local cluster and the CRD.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import clusterSetup from './global-setup.js';

export default async function globalSetup(
  globalConfig: unknown,
  projectConfig: { rootDir: string },
): Promise<void> {
  await clusterSetup(globalConfig, projectConfig);
  const crd = path.join(projectConfig.rootDir, 'crds/generated/databasemigrations.dbmigrate.io.yaml');
  const r = spawnSync(
    'bash',
    [
      '-c',
      'source scripts/tools.sh >/dev/null && "$KUBECTL" apply --server-side --force-conflicts -f "$0"',
      crd,
    ],
    { cwd: projectConfig.rootDir, stdio: 'inherit', env: process.env },
  );
  if (r.status !== 0)
    throw new Error(`could not apply the CRD to the local cluster (exit ${r.status ?? r.signal})`);
}
