// Failpoints for the fault-injection suite (test/faults), in the manner of
// etcd's gofail: DBM_FAILPOINTS names points where the process kills itself
// with SIGKILL, as a crash would. Each point fires once per marker file, so the
// restarted operator runs through it. Unset (always, outside the suite), a
// failpoint is one Set lookup.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';

const armed = new Set(
  (process.env.DBM_FAILPOINTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const markerDir = process.env.DBM_FAILPOINT_DIR;

/** Kills this process at `name` when the suite armed it (and its marker file still exists). */
export function failpoint(name: string): void {
  if (!armed.has(name)) return;
  if (markerDir) {
    const marker = path.join(markerDir, name.replace(/[^a-zA-Z0-9_-]/g, '_'));
    if (!existsSync(marker)) return;
    rmSync(marker, { force: true });
  }
  process.stderr.write(`failpoint ${name}: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}
