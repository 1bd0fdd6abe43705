// STEP_DEADLINE_SECONDS: the migrator stops itself before the Job's deadline
// (the Job controller deletes the Pod then, and its result with it): the
// statement is cancelled, the transaction rolled back, the result written.
import {
  appliedNames,
  createDatabase,
  migratorBackends,
  migrationsDir,
  runMigrator,
  tableExists,
} from './helpers.js';

it('a migrate that would outlive its step deadline stops before it, rolled back, with a result', async () => {
  const db = await createDatabase('deadline');
  const t0 = Date.now();
  // Deadline 16 s: the stop comes at its half (8 s), far before the 5-minute sleep ends.
  const run = await runMigrator('migrate', {
    PGDATABASE: db,
    MIGRATIONS_DIR: migrationsDir('base', 'stuck'),
    TRANSACTION_MODE: 'all',
    STEP_DEADLINE_SECONDS: '16',
  });
  const seconds = (Date.now() - t0) / 1000;
  // Counted from the migrator's own start (after Node and tsx load): the exact
  // arithmetic is unit-tested; here it must stop by itself, long before the sleep ends.
  expect(seconds).toBeLessThan(40);
  expect(run.code).toBe(124);
  expect(run.result.ok).toBe(false);
  expect(run.result.error?.code).toBe('57014');
  expect(run.result.error?.message).toMatch(
    /^stopped before the step deadline \(STEP_DEADLINE_SECONDS\) during /,
  );
  expect(run.stdout).toMatch(/step deadline is near/);
  expect(await migratorBackends(db)).toBe(0);
  // One transaction for all: nothing stays applied, the stuck migration's change is gone.
  expect(await appliedNames(db)).toEqual([]);
  expect(await tableExists(db, 'stuck_marker')).toBe(false);
}, 120_000);

it('an invalid STEP_DEADLINE_SECONDS is a configuration error that names the variable', async () => {
  const db = await createDatabase('deadline_bad');
  const run = await runMigrator('verify', {
    PGDATABASE: db,
    MIGRATIONS_DIR: migrationsDir('base'),
    STEP_DEADLINE_SECONDS: 'soon',
  });
  expect(run.code).toBe(2);
  expect(run.result.error?.message).toMatch(/STEP_DEADLINE_SECONDS must be an integer/);
}, 60_000);
