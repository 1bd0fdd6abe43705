// The full result on stdout: one JSON line of its own, uncut and scrubbed, that
// the operator copies into the plan ConfigMap (the termination message may be cut to 4 KiB).
import { FULL_RESULT_MARKER, fullResultFromLog, JobResult } from '../../crds/job-result.js';
import { createDatabase, migrationsDir, runMigrator } from './helpers.js';

it('migrate prints its full result once, as the termination message says it, with no secret', async () => {
  const db = await createDatabase('fullresult');
  const run = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') });
  expect(run.result.ok).toBe(true);
  expect(run.stdout.split('\n').filter((l) => l.startsWith(FULL_RESULT_MARKER))).toHaveLength(1);
  const full = JobResult.parse(JSON.parse(fullResultFromLog(run.stdout) ?? 'null'));
  expect(full.migrations?.map((m) => m.name)).toEqual(run.result.migrations?.map((m) => m.name));
  expect(full.migrations?.every((m) => /^[0-9a-f]{64}$/.test(m.checksum ?? ''))).toBe(true);
  expect(full.ok).toBe(true);
  // Logs stay JSON lines, the full result's line too.
  for (const line of run.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  expect(run.stdout).not.toContain(process.env.PGPASSWORD ?? 'no-password-set');
}, 120_000);
