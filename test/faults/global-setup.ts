// The fault suite runs on the local control plane (test/cluster/up.sh, reused
// when it is up); it starts with an empty outcome log, so docs/reliability.md
// shows this run only.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';

export default async function globalSetup(
  _globalConfig: unknown,
  projectConfig: { rootDir: string },
): Promise<void> {
  // The outcome log (test/faults/reliability-report.ts); globalSetup cannot import it (no module mapping here).
  mkdirSync(path.join(projectConfig.rootDir, '.tmp'), { recursive: true });
  writeFileSync(path.join(projectConfig.rootDir, '.tmp', 'reliability.jsonl'), '');
  if (process.env.DBM_USE_EXISTING_CLUSTER === '1' && process.env.KUBECONFIG) return;
  const root = projectConfig.rootDir;
  const up = spawnSync('bash', [path.join(root, 'test/cluster/up.sh')], { cwd: root, stdio: 'inherit' });
  if (up.status !== 0)
    throw new Error(`test/cluster/up.sh failed (exit ${up.status ?? up.signal}); see .local-cluster/logs/`);
  process.env.KUBECONFIG = path.join(root, '.local-cluster', 'kubeconfig');
}
