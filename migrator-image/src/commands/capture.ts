// capture: the first half of the check Job, and the only one holding the
// target's credentials. It reads the target (shadow/capture.ts) into
// CAPTURE_DIR, an emptyDir the check container reads; it loads no migration.
import type { JobResult } from '../../../crds/job-result.js';
import { requireSet, type Config } from '../config.js';
import { log } from '../log.js';
import { captureTarget } from '../shadow/capture.js';

export async function capture(cfg: Config, res: JobResult): Promise<void> {
  const dir = requireSet(cfg, 'CAPTURE_DIR', 'for capture');
  const cap = await captureTarget(cfg, dir);
  res.database = cap.identity;
  log.info(
    { roles: cap.look.roles.length, extensions: cap.look.extensions.length, relations: cap.relations.length },
    'target captured for the check',
  );
}
