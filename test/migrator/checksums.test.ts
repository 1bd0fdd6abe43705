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
