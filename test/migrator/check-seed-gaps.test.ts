// spec.check.seedTables: a data migration reading a lookup row is checked on
// the schema alone when that table's rows are seeded. And the gate reads the
// whole check: a migration touching a relation the shadow could not load is a
// blocking finding; schema errors elsewhere stay informational.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabase, runMigrator, tempDir, withDb } from './helpers.js';

const T = 180_000;

function writeMigrations(files: Record<string, string>): string {
  const dir = tempDir('seedgaps');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const READ_COLOR = `export class ReadColor1800000010000 {
  async up(q) {
    const rows = await q.query("SELECT id FROM colors WHERE name = 'red'");
    await q.query('INSERT INTO audit (note) VALUES ($1)', ['red is ' + rows[0].id]);
  }
  async down(q) { await q.query("DELETE FROM audit WHERE note LIKE 'red is %'"); }
}
`;

describe('check: spec.check.seedTables', () => {
  it(
    'a migration reading a seeded row passes with seedTables and is needs-data without; a missing table is a finding',
    async () => {
      const db = await createDatabase('seed');
      await withDb(db, async (c) => {
        await c.query('CREATE TABLE colors (id int PRIMARY KEY, name text NOT NULL)');
        await c.query(`INSERT INTO colors VALUES (1, 'red'), (2, 'green')`);
        await c.query('CREATE TABLE audit (id serial PRIMARY KEY, note text)');
      });
      const dir = writeMigrations({ '1800000010000-ReadColor.js': READ_COLOR });
      const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, TRANSACTION_MODE: 'each', REHEARSAL_MAX_BYTES: '0' };

      const without = await runMigrator('check', env);
      expect(without.result.error).toBeUndefined();
      expect(without.result.plan?.findings).toContainEqual(
        expect.objectContaining({ rule: 'needs-data', migration: 'ReadColor1800000010000' }),
      );

      const seeded = await runMigrator('check', {
        ...env,
        SEED_TABLES: JSON.stringify(['colors', 'public.no_such_table']),
      });
      expect(seeded.result.error).toBeUndefined();
      expect(seeded.code).toBe(0);
      const plan = seeded.result.plan!;
      expect(plan.findings.map((f) => f.rule)).not.toContain('needs-data');
      expect(plan.shadow?.reversibility).toBe('proven');
      expect(plan.rehearsal).toMatchObject({
        onData: false,
        note: expect.stringMatching(/spec\.check\.seedTables public\.colors$/),
      });
      expect(plan.findings).toContainEqual(
        expect.objectContaining({
          rule: 'seed-table-missing',
          category: 'incomplete',
          message: expect.stringMatching(/spec\.check\.seedTables.*public\.no_such_table/),
        }),
      );
      // The target: untouched.
      await withDb(db, async (c) =>
        expect(Number((await c.query('SELECT count(*) AS n FROM audit')).rows[0].n)).toBe(0),
      );
    },
    T,
  );

  it(
    'a bad SEED_TABLES value is refused naming the field',
    async () => {
      const r = await runMigrator('check', {
        PGDATABASE: 'postgres',
        MIGRATIONS_DIR: tempDir('seedbad'),
        SEED_TABLES: JSON.stringify(['colors; DROP TABLE x']),
      });
      expect(r.code).not.toBe(0);
      expect(r.result.error?.message).toMatch(/spec\.check\.seedTables/);
    },
    T,
  );
});

describe('check: a relation whose DDL failed on the shadow', () => {
  it(
    'blocks a migration touching it (schema alone and rehearsal); stays informational for one that does not',
    async () => {
      const db = await createDatabase('gaps');
      await withDb(db, async (c) => {
        // A type pg_dump does not dump (pg_catalog), as an extension the shadow lacks would be.
        await c.query('CREATE DOMAIN pg_catalog.dbm_posint AS int CHECK (VALUE > 0)');
        await c.query('CREATE TABLE geo (id int PRIMARY KEY, v pg_catalog.dbm_posint)');
        await c.query('CREATE TABLE plain (id int PRIMARY KEY)');
      });
      const m = (cls: string, up: string, down: string): string =>
        `export class ${cls} {\n  async up(q) { await q.query(${JSON.stringify(up)}); }\n  async down(q) { await q.query(${JSON.stringify(down)}); }\n}\n`;
      const touching = writeMigrations({
        '1800000011000-Geo.js': m(
          'Geo1800000011000',
          'ALTER TABLE geo ADD COLUMN note text',
          'ALTER TABLE geo DROP COLUMN note',
        ),
      });
      const env = { PGDATABASE: db, TRANSACTION_MODE: 'each' };
      for (const rehearsal of ['0', '1073741824']) {
        const r = await runMigrator('check', {
          ...env,
          MIGRATIONS_DIR: touching,
          REHEARSAL_MAX_BYTES: rehearsal,
        });
        expect(r.result.error).toBeUndefined();
        expect(r.code).toBe(0);
        expect(r.result.plan?.findings).toContainEqual(
          expect.objectContaining({
            rule: 'check-incomplete',
            category: 'rehearsal',
            severity: 'error',
            migration: 'Geo1800000011000',
            message: expect.stringMatching(/public\.geo.*dbm_posint/),
          }),
        );
      }
      const other = writeMigrations({
        '1800000012000-Plain.js': m(
          'Plain1800000012000',
          'ALTER TABLE plain ADD COLUMN note text',
          'ALTER TABLE plain DROP COLUMN note',
        ),
      });
      const o = await runMigrator('check', { ...env, MIGRATIONS_DIR: other, REHEARSAL_MAX_BYTES: '0' });
      expect(o.result.error).toBeUndefined();
      const findings = o.result.plan!.findings;
      expect(findings).toContainEqual(
        expect.objectContaining({ rule: 'check-incomplete', category: 'incomplete', severity: 'warning' }),
      );
      expect(findings.filter((f) => f.category === 'rehearsal')).toEqual([]);
    },
    T,
  );
});
