// The check never runs migration code with the target's credentials: a
// migration that opens its own connection (new pg.Client(), which reads PG*)
// reaches the private server; the migrations run there as the target's own
// role, so a privilege error shows in the check; and a plan whose SQL inlines a
// computed value gets the same approval hash at every check.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createDatabase, ROOT, runMigrator, tempDir, withDb } from './helpers.js';

const T = 180_000;
const PG_MODULE = pathToFileURL(path.join(ROOT, 'node_modules/pg/lib/index.js')).href;

function writeMigrations(files: Record<string, string>): string {
  const dir = tempDir('offtarget');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const BASE = `export class Base1800000000000 {
  async up(q) {
    await q.query('CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)');
    await q.query('INSERT INTO counters SELECT g, 1 FROM generate_series(1, 1000) g');
    await q.query('CREATE TABLE audit (id serial PRIMARY KEY, note text)');
    await q.query('CREATE TABLE flags (id int PRIMARY KEY)');
  }
  async down(q) {
    await q.query('DROP TABLE flags');
    await q.query('DROP TABLE audit');
    await q.query('DROP TABLE counters');
  }
}
`;

// A data fix through the app's own pool: a client of its own, configured by PG*
// (on tables the migration's own transaction does not lock, or it would wait on itself).
const OWN_CLIENT = `import pg from '${PG_MODULE}';
export class OwnClient1800000001000 {
  async up(q) {
    await q.query('ALTER TABLE flags ADD COLUMN touched boolean');
    const c = new pg.Client();
    await c.connect();
    try {
      await c.query("INSERT INTO audit (note) VALUES ('written by the migration''s own client'), ('twice')");
      await c.query('UPDATE counters SET n = 0');
    } finally {
      await c.end();
    }
  }
  async down(q) {
    await q.query('UPDATE counters SET n = 1');
    await q.query('ALTER TABLE flags DROP COLUMN touched');
  }
}
`;

describe('check: migration code never holds the target', () => {
  it(
    'a migration opening new pg.Client() and writing leaves the target unchanged; the plan is reported',
    async () => {
      const db = await createDatabase('offt');
      const base = writeMigrations({ '1800000000000-Base.js': BASE });
      const env = { PGDATABASE: db, MIGRATIONS_DIR: base, TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', env)).code).toBe(0);
      const dir = writeMigrations({
        '1800000000000-Base.js': BASE,
        '1800000001000-OwnClient.js': OWN_CLIENT,
      });

      const r = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.plan?.pending).toEqual(['OwnClient1800000001000']);
      expect(r.result.plan?.shadow?.reversibility).toBe('proven');
      // The migration ran (on the private server): its statements were traced there.
      expect(r.result.plan?.shadow?.statementsTraced).toBeGreaterThan(0);

      await withDb(db, async (c) => {
        expect(Number((await c.query('SELECT count(*) AS n FROM audit')).rows[0].n)).toBe(0);
        expect(Number((await c.query('SELECT count(*) AS n FROM counters WHERE n = 1')).rows[0].n)).toBe(
          1000,
        );
        const col = await c.query(
          `SELECT 1 FROM information_schema.columns WHERE table_name = 'flags' AND column_name = 'touched'`,
        );
        expect(col.rowCount).toBe(0);
      });
    },
    T,
  );

  it(
    "runs as the target's own non-superuser role: a privilege error shows in the check",
    async () => {
      const db = await createDatabase('offr');
      const role = `app_${db.slice(-8)}`;
      await withDb(db, async (c) => {
        await c.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB PASSWORD 'app-secret-pw'`);
        await c.query(`ALTER DATABASE ${db} OWNER TO ${role}`);
        await c.query(`ALTER SCHEMA public OWNER TO ${role}`);
      });
      const asApp = { PGDATABASE: db, PGUSER: role, PGPASSWORD: 'app-secret-pw', TRANSACTION_MODE: 'each' };
      const base = writeMigrations({ '1800000000000-Base.js': BASE });
      expect((await runMigrator('migrate', { ...asApp, MIGRATIONS_DIR: base })).code).toBe(0);
      // earthdistance is not a trusted extension: only a superuser may create it.
      const ext = `export class Earth1800000002000 {
  async up(q) { await q.query('CREATE EXTENSION IF NOT EXISTS earthdistance CASCADE'); }
  async down(q) { await q.query('DROP EXTENSION earthdistance'); }
}
`;
      const dir = writeMigrations({ '1800000000000-Base.js': BASE, '1800000002000-Earth.js': ext });
      // On the copy of the rows it is a blocking finding; on the schema alone the check fails with it.
      const r = await runMigrator('check', { ...asApp, MIGRATIONS_DIR: dir });
      expect(r.code).toBe(0);
      expect(r.result.plan?.findings).toContainEqual(
        expect.objectContaining({
          rule: 'rehearsal-failed',
          migration: 'Earth1800000002000',
          message: expect.stringMatching(/42501.*permission denied to create extension/),
        }),
      );
      const schemaOnly = await runMigrator('check', {
        ...asApp,
        MIGRATIONS_DIR: dir,
        REHEARSAL_MAX_BYTES: '0',
      });
      expect(schemaOnly.code).toBe(1);
      expect(schemaOnly.result.error).toMatchObject({ code: '42501', migration: 'Earth1800000002000' });
      expect(schemaOnly.result.error?.message).toMatch(/permission denied to create extension/);
      expect(r.raw).not.toContain('app-secret-pw');

      // The same plan as the superuser is clean: the shadow is not simply refusing extensions.
      const su = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        TRANSACTION_MODE: 'each',
      });
      expect(su.result.error).toBeUndefined();
      await withDb(db, async (c) =>
        expect((await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'earthdistance'`)).rowCount).toBe(
          0,
        ),
      );
    },
    T,
  );

  it(
    'a plan inlining a timestamp and a uuid gets the same hash at every check',
    async () => {
      const db = await createDatabase('offh');
      const base = writeMigrations({ '1800000000000-Base.js': BASE });
      const env = { PGDATABASE: db, TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', { ...env, MIGRATIONS_DIR: base })).code).toBe(0);
      const inline = `import { randomUUID } from 'node:crypto';
export class Stamp1800000003000 {
  async up(q) {
    await q.query(\`INSERT INTO audit (note) VALUES ('\${new Date().toISOString()} \${randomUUID()}')\`);
  }
  async down(q) { await q.query("DELETE FROM audit WHERE note LIKE '2%'"); }
}
`;
      const dir = writeMigrations({ '1800000000000-Base.js': BASE, '1800000003000-Stamp.js': inline });
      const a = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      await new Promise((r) => setTimeout(r, 20));
      const b = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(a.result.error).toBeUndefined();
      expect(a.result.plan?.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(b.result.plan?.hash).toBe(a.result.plan?.hash);
      // A changed file changes it; so does a changed file the migrations may read beside them.
      writeFileSync(path.join(dir, 'seed.json'), '{"v":1}');
      const withSibling = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(withSibling.result.plan?.hash).not.toBe(a.result.plan?.hash);
      writeFileSync(path.join(dir, 'seed.json'), '{"v":2}');
      const siblingChanged = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(siblingChanged.result.plan?.hash).not.toBe(withSibling.result.plan?.hash);
      writeFileSync(path.join(dir, '1800000003000-Stamp.js'), inline.replace('DELETE', 'DELETE /* v2 */'));
      const c = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(c.result.plan?.hash).not.toBe(siblingChanged.result.plan?.hash);
    },
    T,
  );
});

describe('check: the rehearsal on a copy of the real rows', () => {
  const CHECK = `export class PositiveN1800000004000 {
  async up(q) { await q.query('ALTER TABLE counters ADD CONSTRAINT counters_n_positive CHECK (n > 0)'); }
  async down(q) { await q.query('ALTER TABLE counters DROP CONSTRAINT counters_n_positive'); }
}
`;
  it(
    'a constraint 3 existing rows violate is a blocking finding on the rehearsal; the schema alone passes it; fixed rows pass with durations',
    async () => {
      const db = await createDatabase('reh');
      const base = writeMigrations({ '1800000000000-Base.js': BASE });
      const env = { PGDATABASE: db, TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', { ...env, MIGRATIONS_DIR: base })).code).toBe(0);
      await withDb(db, (c) => c.query('UPDATE counters SET n = 0 WHERE id IN (7, 70, 700)'));
      const dir = writeMigrations({ '1800000000000-Base.js': BASE, '1800000004000-PositiveN.js': CHECK });

      const r = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      const plan = r.result.plan!;
      expect(plan.rehearsal).toMatchObject({ onData: true });
      expect(plan.findings).toContainEqual(
        expect.objectContaining({
          rule: 'rehearsal-failed',
          category: 'rehearsal',
          migration: 'PositiveN1800000004000',
          statement: 0,
          message: expect.stringMatching(/23514.*violated by some row/),
        }),
      );
      // The target: the same rows, no constraint.
      await withDb(db, async (c) => {
        expect(Number((await c.query('SELECT count(*) AS n FROM counters WHERE n = 0')).rows[0].n)).toBe(3);
        expect(
          (await c.query(`SELECT 1 FROM pg_constraint WHERE conname = 'counters_n_positive'`)).rowCount,
        ).toBe(0);
      });

      // On the schema alone (the copy turned off) the same plan looks clean: what the rehearsal adds.
      const schemaOnly = await runMigrator('check', {
        ...env,
        MIGRATIONS_DIR: dir,
        REHEARSAL_MAX_BYTES: '0',
      });
      expect(schemaOnly.result.plan?.rehearsal).toMatchObject({ onData: false });
      expect(schemaOnly.result.plan?.findings.filter((f) => f.category === 'rehearsal')).toEqual([]);

      await withDb(db, (c) => c.query('UPDATE counters SET n = 1 WHERE n = 0'));
      const fixed = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(fixed.result.plan?.findings.filter((f) => f.category === 'rehearsal')).toEqual([]);
      expect(fixed.result.plan?.shadow?.reversibility).toBe('proven');
      const rehearsal = fixed.result.plan!.rehearsal!;
      expect(Object.keys(rehearsal.durationsMs)).toEqual(['PositiveN1800000004000']);
      expect(rehearsal.totalMs).toBeGreaterThanOrEqual(rehearsal.durationsMs.PositiveN1800000004000!);
    },
    T,
  );
});

describe('check: every down() is tried', () => {
  it(
    'two failing down()s of three are both reported, not only the first one reached',
    async () => {
      const db = await createDatabase('downs');
      const base = writeMigrations({ '1800000000000-Base.js': BASE });
      const env = { PGDATABASE: db, TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', { ...env, MIGRATIONS_DIR: base })).code).toBe(0);
      const m = (cls: string, up: string, down: string): string =>
        `export class ${cls} {\n  async up(q) { await q.query(${JSON.stringify(up)}); }\n  async down(q) { await q.query(${JSON.stringify(down)}); }\n}\n`;
      const dir = writeMigrations({
        '1800000000000-Base.js': BASE,
        '1800000005000-A.js': m(
          'A1800000005000',
          'ALTER TABLE flags ADD COLUMN a int',
          'ALTER TABLE flags DROP COLUMN nope_a',
        ),
        '1800000006000-B.js': m(
          'B1800000006000',
          'ALTER TABLE flags ADD COLUMN b int',
          'ALTER TABLE flags DROP COLUMN b',
        ),
        '1800000007000-C.js': m(
          'C1800000007000',
          'ALTER TABLE flags ADD COLUMN c int',
          'ALTER TABLE flags DROP COLUMN nope_c',
        ),
      });
      const r = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(r.result.error).toBeUndefined();
      const irreversible = r.result.plan!.findings.filter((f) => f.rule === 'irreversible-down');
      expect(irreversible.map((f) => f.migration).sort()).toEqual(['A1800000005000', 'C1800000007000']);
      expect(r.result.plan?.shadow?.reversibility).toBe('failed');
    },
    T,
  );
});

describe('check: statements are logged and stored scrubbed', () => {
  it(
    "CREATE ROLE ... PASSWORD '...' never shows its password in the log or the result",
    async () => {
      const db = await createDatabase('scrub');
      const role = `r_${db.slice(-8)}`;
      const secret = 'hunter2-in-a-migration';
      const dir = writeMigrations({
        '1800000000000-Base.js': BASE,
        '1800000008000-Role.js': `export class Role1800000008000 {
  async up(q) { await q.query("CREATE ROLE ${role} LOGIN PASSWORD '${secret}'"); }
  async down(q) { await q.query('DROP ROLE ${role}'); }
}
`,
      });
      // Debug level: the captured statements are logged one by one.
      const r = await runMigrator('check', {
        PGDATABASE: db,
        MIGRATIONS_DIR: dir,
        TRANSACTION_MODE: 'each',
        LOG_LEVEL: 'debug',
      });
      expect(r.result.error).toBeUndefined();
      expect(r.result.plan?.pending).toContain('Role1800000008000');
      const everything = r.stdout + r.stderr + r.raw;
      expect(everything).toContain('captured SQL');
      expect(everything).toContain(`CREATE ROLE ${role} LOGIN PASSWORD`);
      expect(everything).not.toContain(secret);
    },
    T,
  );
});

describe('check: a data migration on the schema alone', () => {
  it(
    'one that reads a seeded row is a needs-data finding there (not a failed check), and passes on the rehearsal',
    async () => {
      const db = await createDatabase('needs');
      const base = writeMigrations({ '1800000000000-Base.js': BASE });
      const env = { PGDATABASE: db, TRANSACTION_MODE: 'each' };
      expect((await runMigrator('migrate', { ...env, MIGRATIONS_DIR: base })).code).toBe(0);
      const dir = writeMigrations({
        '1800000000000-Base.js': BASE,
        '1800000009000-ReadSeed.js': `export class ReadSeed1800000009000 {
  async up(q) {
    const rows = await q.query('SELECT n FROM counters WHERE id = 1');
    await q.query('INSERT INTO audit (note) VALUES ($1)', ['seed was ' + rows[0].n]);
  }
  async down(q) { await q.query("DELETE FROM audit WHERE note LIKE 'seed was %'"); }
}
`,
      });
      const schemaOnly = await runMigrator('check', {
        ...env,
        MIGRATIONS_DIR: dir,
        REHEARSAL_MAX_BYTES: '0',
      });
      expect(schemaOnly.result.error).toBeUndefined();
      expect(schemaOnly.code).toBe(0);
      expect(schemaOnly.result.plan?.findings).toContainEqual(
        expect.objectContaining({
          rule: 'needs-data',
          category: 'incomplete',
          migration: 'ReadSeed1800000009000',
        }),
      );
      const rehearsed = await runMigrator('check', { ...env, MIGRATIONS_DIR: dir });
      expect(rehearsed.result.error).toBeUndefined();
      expect(rehearsed.result.plan?.findings.map((f) => f.rule)).not.toContain('needs-data');
      expect(rehearsed.result.plan?.shadow?.reversibility).toBe('proven');
    },
    T,
  );
});
