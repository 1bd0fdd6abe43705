// A Job's Pod is stopped with SIGTERM (then SIGKILL after the grace period), or
// dies outright. Either way the database must end at a migration boundary whose
// migrations table matches the schema, and a re-run must apply only the rest.
import {
  appliedNames,
  createDatabase,
  exitOf,
  historyNames,
  migratorBackends,
  migrationsDir,
  runMigrator,
  startMigrator,
  tableExists,
  waitForStatement,
  withDb,
} from './helpers.js';

const T = 180_000;
const BASE = [
  'CreateCatalog1700000000000',
  'AddProductAttributes1700000001000',
  'SeedProductCategories1700000002000',
  'CreateAuditLog1700000003000',
];
const SLOW = 'SlowBackfill1700000008000';

describe('migrator signals', () => {
  it.each([
    ['all', [] as string[]],
    ['each', BASE],
  ])(
    'SIGTERM mid-migration (mode %s): statement cancelled, rolled back, result written, exit 143',
    async (mode, kept) => {
      const db = await createDatabase(`sigterm_${mode}`);
      const { child, done } = startMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base', 'slow'),
        TRANSACTION_MODE: mode,
      });
      // SlowBackfill has created backfill_marker and sleeps: stop it there.
      await waitForStatement(db, '%pg_sleep%');
      child.kill('SIGTERM');
      const run = await done;
      expect(run.code).toBe(143);
      expect(run.result.ok).toBe(false);
      expect(run.result.error).toEqual({
        message: `terminated by SIGTERM during ${SLOW}`,
        code: '57014',
        migration: SLOW,
      });
      expect(run.result.migrations?.at(-1)).toMatchObject({ name: SLOW, outcome: 'failed' });
      expect(run.stdout).toMatch(/signal received: cancelling our statements/);
      expect(await migratorBackends(db)).toBe(0);
      // The migrations table matches the schema: the failed migration and its changes are absent.
      expect(await appliedNames(db)).toEqual(kept);
      expect(await historyNames(db)).toEqual(kept);
      expect(await tableExists(db, 'backfill_marker')).toBe(false);
      expect(await tableExists(db, 'products')).toBe(mode === 'each');
    },
    T,
  );

  it(
    'SIGKILL mid-way in mode each: ends at a migration boundary, the re-run applies the rest exactly once',
    async () => {
      const db = await createDatabase('sigkill');
      const env = {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base', 'concurrent', 'slow'),
        TRANSACTION_MODE: 'each',
      };
      const { child, done } = startMigrator('migrate', env);
      // A SIGKILLed migrator writes no result: only its exit matters here.
      done.catch(() => undefined);
      const exited = exitOf(child);
      await waitForStatement(db, '%pg_sleep%');
      child.kill('SIGKILL');
      expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(await migratorBackends(db)).toBe(0);
      const boundary = [...BASE, 'AddSkuIndexConcurrently1700000006000'];
      expect(await appliedNames(db)).toEqual(boundary);
      expect(await historyNames(db)).toEqual(boundary);
      expect(await tableExists(db, 'backfill_marker')).toBe(false);

      const rerun = await runMigrator('migrate', env);
      expect(rerun.result.error).toBeUndefined();
      expect(rerun.code).toBe(0);
      expect(rerun.result.migrations?.map((m) => [m.name, m.outcome])).toEqual([[SLOW, 'applied']]);
      expect(rerun.result.totals).toMatchObject({ applied: 1, pending: 0 });
      expect(await appliedNames(db)).toEqual([...boundary, SLOW]);
      expect(await historyNames(db)).toEqual([...boundary, SLOW]);
      await withDb(db, async (c) => {
        expect((await c.query('SELECT count(*)::int AS n FROM backfill_marker')).rows[0]).toEqual({ n: 1 });
      });
    },
    T,
  );
});
