// Approval by checksums against a real PostgreSQL: migrate runs only the files
// the run's check saw (EXPECTED_CHECKSUMS, EXPECTED_PENDING_COUNT) and refuses,
// naming the migration and changing nothing, when a file differs or a pending
// migration was not in the plan.
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { appliedNames, createDatabase, migrationsDir, runMigrator, tableExists } from './helpers.js';

/** name -> sha256 of each file, as loader.ts computes it (name = class: <Name><timestamp>). */
function checksumsOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.js'))
    .sort()) {
    const m = /^(\d{13})-(\w+)\.js$/.exec(f);
    if (!m) throw new Error(`unexpected fixture name ${f}`);
    out[`${m[2]}${m[1]}`] = createHash('sha256')
      .update(readFileSync(path.join(dir, f)))
      .digest('hex');
  }
  return out;
}

const T = 120_000;

it(
  'applies the checked files',
  async () => {
    const db = await createDatabase('sums_ok');
    const dir = migrationsDir('base');
    const sums = checksumsOf(dir);
    const run = await runMigrator('migrate', {
      PGDATABASE: db,
      MIGRATIONS_DIR: dir,
      EXPECTED_CHECKSUMS: JSON.stringify(sums),
      EXPECTED_PENDING_COUNT: '4',
    });
    expect(run.result.ok).toBe(true);
    expect(run.result.migrations?.map((m) => [m.name, m.checksum])).toEqual(Object.entries(sums));
  },
  T,
);

it(
  'refuses a file changed since the check, naming it, and applies nothing',
  async () => {
    const db = await createDatabase('sums_changed');
    const dir = migrationsDir('base');
    const sums = checksumsOf(dir);
    // The image was re-built (or the ConfigMap edited) after the check: one byte more.
    appendFileSync(path.join(dir, '1700000002000-SeedProductCategories.js'), '\n// changed\n');
    const run = await runMigrator('migrate', {
      PGDATABASE: db,
      MIGRATIONS_DIR: dir,
      EXPECTED_CHECKSUMS: JSON.stringify(sums),
      EXPECTED_PENDING_COUNT: '4',
    });
    expect(run.code).toBe(1);
    expect(run.result.ok).toBe(false);
    expect(run.result.error?.migration).toBe('SeedProductCategories1700000002000');
    expect(run.result.error?.message).toMatch(
      /^migration SeedProductCategories1700000002000 changed since the check: its file has sha256 [0-9a-f]{12}, the checked plan [0-9a-f]{12}/,
    );
    expect(await appliedNames(db)).toEqual([]);
    expect(await tableExists(db, 'products')).toBe(false);
  },
  T,
);

it(
  'refuses a pending migration that was not in the plan',
  async () => {
    const db = await createDatabase('sums_extra');
    const checked = checksumsOf(migrationsDir('base'));
    const run = await runMigrator('migrate', {
      PGDATABASE: db,
      MIGRATIONS_DIR: migrationsDir('base', 'destructive'),
      EXPECTED_CHECKSUMS: JSON.stringify(checked),
      EXPECTED_PENDING_COUNT: '4',
    });
    expect(run.result.ok).toBe(false);
    expect(run.result.error?.migration).toBe('DropLegacyData1700000007000');
    expect(run.result.error?.message).toMatch(
      /^migration DropLegacyData1700000007000 is pending but was not in the checked plan/,
    );
    expect(await appliedNames(db)).toEqual([]);
  },
  T,
);

/** The digest over the whole plan, as the check computes it (planDigest: "name sha256\n" per migration, in order). */
function digestOf(sums: Record<string, string>): string {
  const h = createHash('sha256');
  for (const [name, sum] of Object.entries(sums)) h.update(`${name} ${sum}\n`);
  return h.digest('hex');
}

it(
  'with the checksums list cut (2 of 4 kept), the digest still refuses a changed file outside the kept ones',
  async () => {
    const db = await createDatabase('sums_digest');
    const dir = migrationsDir('base');
    const sums = checksumsOf(dir);
    const kept = Object.fromEntries(Object.entries(sums).slice(0, 2));
    appendFileSync(path.join(dir, '1700000003000-CreateAuditLog.js'), '\n// changed after the check\n');
    const run = await runMigrator('migrate', {
      PGDATABASE: db,
      MIGRATIONS_DIR: dir,
      EXPECTED_CHECKSUMS: JSON.stringify(kept),
      EXPECTED_PENDING_COUNT: '4',
      EXPECTED_PLAN_DIGEST: digestOf(sums),
    });
    expect(run.code).toBe(1);
    expect(run.result.error?.message).toMatch(/^the pending migrations' files differ from the checked plan/);
    expect(await appliedNames(db)).toEqual([]);
  },
  T,
);

it(
  'a migrate Job of the same run started again after it succeeded (it vanished unseen) reports every migration applied, applying none twice',
  async () => {
    const db = await createDatabase('sums_again');
    const dir = migrationsDir('base');
    const sums = checksumsOf(dir);
    const env = {
      PGDATABASE: db,
      MIGRATIONS_DIR: dir,
      EXPECTED_CHECKSUMS: JSON.stringify(sums),
      EXPECTED_PENDING_COUNT: '4',
      EXPECTED_PLAN_DIGEST: digestOf(sums),
      MIGRATION_AUTHOR: 'apps/shop@3.1',
    };
    expect((await runMigrator('migrate', env)).code).toBe(0);
    const again = await runMigrator('migrate', env);
    expect(again.result.error).toBeUndefined();
    expect(again.code).toBe(0);
    expect(again.result.migrations?.map((m) => m.name)).toEqual(Object.keys(sums));
    expect(again.result.totals?.applied).toBe(4);
    expect(await appliedNames(db)).toEqual(Object.keys(sums));
    // Another run (another identity) with the same plan is refused: its plan is no longer pending.
    const other = await runMigrator('migrate', { ...env, MIGRATION_AUTHOR: 'apps/shop@4.1' });
    expect(other.code).toBe(1);
    expect(other.result.error?.message).toMatch(/^0 migration\(s\) pending now, 4 in the checked plan/);
  },
  T,
);
