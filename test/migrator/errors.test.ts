import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabase, migrationsDir, runMigrator, tempDir, type RunResult } from './helpers.js';

const T = 180_000;
const SECRET = 'S3cret-pa55word-that-must-not-leak';

function expectNoSecret(run: RunResult, secret: string) {
  expect(run.stdout).not.toContain(secret);
  expect(run.stderr).not.toContain(secret);
  expect(run.raw).not.toContain(secret);
}

function expectOneLineFailure(run: RunResult) {
  expect(run.code).not.toBe(0);
  expect(run.result.ok).toBe(false);
  expect(run.result.error?.message).toBeTruthy();
  expect(run.result.error?.message).not.toMatch(/\n/);
}

describe('migrator failures', () => {
  it(
    'wrong password: a one-line error with the SQLSTATE, and the password nowhere',
    async () => {
      const db = await createDatabase('pw');
      const run = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base'),
        PGPASSWORD: SECRET,
      });
      expectOneLineFailure(run);
      expect(run.result.error).toEqual({
        message: `password authentication failed for user "${process.env.PGUSER}"`,
        code: '28P01',
      });
      expectNoSecret(run, SECRET);
    },
    T,
  );

  it(
    'the real password never appears either, even in a failing backup',
    async () => {
      const run = await runMigrator('backup', {
        PGDATABASE: 'no_such_database',
        BACKUP_DIR: tempDir('never'),
      });
      expectOneLineFailure(run);
      expect(run.result.error?.message).toMatch(/database "no_such_database" does not exist/);
      expectNoSecret(run, process.env.PGPASSWORD!);
    },
    T,
  );

  it(
    'unreachable host',
    async () => {
      const run = await runMigrator('migrate', {
        PGHOST: '127.0.0.1',
        PGPORT: '1',
        PGDATABASE: 'x',
        MIGRATIONS_DIR: migrationsDir('base'),
        PGPASSWORD: SECRET,
      });
      expectOneLineFailure(run);
      expect(run.result.error?.message).toMatch(/ECONNREFUSED 127\.0\.0\.1:1/);
      expectNoSecret(run, SECRET);
    },
    T,
  );

  it(
    'missing migrations directory',
    async () => {
      const db = await createDatabase('nodir');
      const run = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: '/nonexistent/migrations' });
      expectOneLineFailure(run);
      expect(run.result.error?.message).toBe('migrations directory /nonexistent/migrations does not exist');
    },
    T,
  );

  it(
    'a directory with no compiled migrations (only .ts sources) is an error, not ok with zero',
    async () => {
      const db = await createDatabase('onlyts');
      const dir = tempDir('tsonly');
      writeFileSync(
        path.join(dir, '1700000000000-CreateThing.ts'),
        'export class CreateThing1700000000000 {}\n',
      );
      writeFileSync(path.join(dir, '1700000000001-Other.ts'), 'export class Other1700000000001 {}\n');
      writeFileSync(path.join(dir, 'types.d.ts'), 'export {};\n');
      const run = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: dir });
      expectOneLineFailure(run);
      expect(run.result.error?.message).toBe(
        `no compiled migrations in ${dir}: found 2 .ts files; point migrations.path at the compiled JavaScript`,
      );
      const empty = await runMigrator('check', { PGDATABASE: db, MIGRATIONS_DIR: tempDir('empty') });
      expectOneLineFailure(empty);
      expect(empty.result.error?.message).toMatch(/^no compiled migrations in .*: found 0 \.ts files/);
    },
    T,
  );

  it(
    'a migration file that does not load, and a class without a timestamp',
    async () => {
      const db = await createDatabase('broken');
      const run = await runMigrator('migrate', {
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base', 'broken'),
      });
      expectOneLineFailure(run);
      expect(run.result.error).toEqual({
        message:
          'cannot load migration file 1700000009000-Broken.js: this migration module fails while loading',
        migration: '1700000009000-Broken.js',
      });
      const bad = await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('badname') });
      expectOneLineFailure(bad);
      expect(bad.result.error?.message).toMatch(/AddThing .*13-digit timestamp/);
    },
    T,
  );

  it(
    'invalid configuration exits 2 with the variable named',
    async () => {
      const run = await runMigrator('migrate', {
        PGDATABASE: 'x',
        TRANSACTION_MODE: 'sometimes',
        MIGRATIONS_DIR: '/x',
      });
      expect(run.code).toBe(2);
      expect(run.result.error?.message).toMatch(/^invalid environment: TRANSACTION_MODE/);
      const revert = await runMigrator('revert', { PGDATABASE: 'x', MIGRATIONS_DIR: '/x' });
      expect(revert.code).toBe(2);
      expect(revert.result.error?.message).toMatch(
        /set REVERT_APPLIED_BY, REVERT_MIGRATIONS, REVERT_STEPS or REVERT_TO for revert/,
      );
    },
    T,
  );
});
