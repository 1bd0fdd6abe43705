// The full result on stdout: one JSON line of its own, uncut and scrubbed, that
// the operator copies into the plan ConfigMap (the termination message may be cut to 4 KiB).
import {
  FULL_RESULT_MARKER,
  fullResultFromLog,
  JobResult,
  MigrateProgress,
  PROGRESS_MARKER,
} from '../../crds/job-result.js';
import { progressFromLog } from '../../operator/migrate-progress.js';
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

it('migrate prints a progress line before each migration and one at its end, for the live status', async () => {
  const db = await createDatabase('progress');
  const run = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') });
  expect(run.result.ok).toBe(true);
  const names = run.result.migrations?.map((m) => m.name) ?? [];
  expect(names.length).toBeGreaterThan(1);
  const progress = run.stdout
    .split('\n')
    .filter((l) => l.startsWith(PROGRESS_MARKER))
    .map((l) => MigrateProgress.parse((JSON.parse(l) as { dbmigrateProgress: unknown }).dbmigrateProgress));
  expect(progress).toEqual([
    ...names.map((current, applied) => ({ applied, total: names.length, current })),
    { applied: names.length, total: names.length },
  ]);
  // Each one comes before its migration's own log line; the operator reads the last from a log tail.
  const lines = run.stdout.split('\n');
  const at = (s: string) => lines.findIndex((l) => l.includes(s));
  expect(at(`"current":"${names[1]}"`)).toBeLessThan(
    at(`"migration":"${names[1]}","msg":"applying migration"`),
  );
  expect(progressFromLog(run.stdout)).toEqual({ applied: names.length, total: names.length });
  // Up to date: nothing pending, the end line says 0/0.
  const again = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') });
  expect(progressFromLog(again.stdout)).toEqual({ applied: 0, total: 0 });
}, 120_000);
