// The bundled migrator (scripts/bundle.ts, what the image runs): its compile
// cache is written, it dispatches like main.ts, and TypeORM stays one instance
// shared with the users' files: a migration importing 'typeorm' and entities
// registered through it work as with the sources; a backup runs without TypeORM.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { appliedNames, createDatabase, migrationsDir, ROOT, runMigrator, tempDir } from './helpers.js';

const NODE = path.join(ROOT, 'node_modules/.bin/node');
// Inside the package (node_modules above it), as dist/bundle/migrator is.
const OUT = path.join(ROOT, '.tmp', `bundle-test-${process.pid}`);
const START = path.join(OUT, 'start.mjs');
const T = 180_000;

beforeAll(() => {
  const r = spawnSync(NODE, ['--import', 'tsx', path.join(ROOT, 'scripts/bundle.ts'), '--out', OUT], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bundle failed: ${r.stderr}\n${r.stdout}`);
  process.env.DBM_TEST_MIGRATOR = START;
}, T);

afterAll(() => {
  delete process.env.DBM_TEST_MIGRATOR;
  rmSync(OUT, { recursive: true, force: true });
});

it('writes the compile cache of every chunk and prints the usage without a command', () => {
  const cached = readdirSync(path.join(OUT, '.cache')).flatMap((d) =>
    readdirSync(path.join(OUT, '.cache', d)),
  );
  const chunks = readdirSync(OUT).filter((f) => f.endsWith('.mjs'));
  // One entry per chunk but start.mjs and main's, and TypeORM's files beside them.
  expect(cached.length).toBeGreaterThan(chunks.length);
  const r = spawnSync(NODE, [START], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/usage: migrator <[a-z|]*\bbackup\b[a-z|]*>/);
});

it(
  "migrates files that import 'typeorm', with entities, on the migrator's own TypeORM",
  async () => {
    const db = await createDatabase('bundle');
    const run = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') });
    expect(run.result.error).toBeUndefined();
    expect(run.code).toBe(0);
    expect(await appliedNames(db)).toHaveLength(4);

    const entities = tempDir('entities');
    cpSync(path.join(ROOT, 'test/fixtures/entities'), entities, { recursive: true });
    const withEntities = await runMigrator('migrate', {
      PGDATABASE: db,
      MIGRATIONS_DIR: migrationsDir('base', 'entities'),
      ENTITIES_DIR: entities,
      TRANSACTION_MODE: 'each',
    });
    expect(withEntities.result.error).toBeUndefined();
    expect(withEntities.code).toBe(0);
    expect(await appliedNames(db)).toHaveLength(5);
  },
  T,
);

it(
  'backs up with the sha256, size and counts recorded',
  async () => {
    const db = await createDatabase('bundle');
    await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') });
    const dir = tempDir('backups');
    const r = await runMigrator('backup', {
      PGDATABASE: db,
      BACKUP_DIR: dir,
      BACKUP_ID: 'b',
      BACKUP_VERIFY: 'false',
    });
    expect(r.result.error).toBeUndefined();
    expect(r.result.backup).toMatchObject({
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      appliedMigrations: 4,
    });
    expect(r.result.backup?.sizeBytes).toBeGreaterThan(0);
    expect(existsSync(path.join(dir, 'b.meta.json'))).toBe(true);
  },
  T,
);
