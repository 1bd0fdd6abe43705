// The classes of misses and false positives found on the external labelled set
// (test/fixtures/lint-external), one describe per class.
import { lintMigration, newLintContext, seedSchema, type LintOptions } from './index.js';

/** Rule ids of a plan: each string is one migration, linted in order in one context. */
async function plan(
  migrations: string[],
  opts: { schema?: string; options?: Omit<LintOptions, 'volatile'> } = {},
): Promise<string[]> {
  const ctx = newLintContext(undefined, opts.options ?? {});
  if (opts.schema) await seedSchema(ctx, opts.schema);
  const out: string[] = [];
  for (const [i, sql] of migrations.entries())
    out.push(...(await lintMigration(`M${i}`, [sql], ctx)).findings.map((f) => f.rule));
  return out;
}

describe('VALIDATE in the transaction that added the constraint NOT VALID', () => {
  it('is a validation under lock, for foreign keys and checks', async () => {
    const fk = `ALTER TABLE e ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID; ALTER TABLE e VALIDATE CONSTRAINT fk`;
    expect(await plan([`BEGIN; ${fk}; COMMIT`])).toContain('add-foreign-key-validated');
    expect(await plan([fk], { options: { implicitTransaction: true } })).toContain(
      'add-foreign-key-validated',
    );
    const ck = `BEGIN; ALTER TABLE a ADD CONSTRAINT c CHECK (n > 0) NOT VALID; ALTER TABLE a VALIDATE CONSTRAINT c; COMMIT`;
    expect(await plan([ck])).toContain('add-check-validated');
  });

  it('is the safe pattern when a COMMIT (or another migration) separates them', async () => {
    const add = `ALTER TABLE e ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID`;
    expect(
      await plan([`BEGIN; ${add}; COMMIT; BEGIN; ALTER TABLE e VALIDATE CONSTRAINT fk; COMMIT`]),
    ).toEqual([]);
    const tx = { options: { implicitTransaction: true } };
    expect(await plan([add, 'ALTER TABLE e VALIDATE CONSTRAINT fk'], tx)).toEqual([]);
  });
});

describe('a foreign key added through ADD COLUMN ... REFERENCES', () => {
  it('validates under lock on an existing table, not on a new one', async () => {
    expect(await plan(['ALTER TABLE e ADD COLUMN u int REFERENCES u (id)'])).toEqual([
      'add-foreign-key-validated',
    ]);
    expect(
      await plan(['CREATE TABLE e (id bigint); ALTER TABLE e ADD COLUMN u int REFERENCES u (id)']),
    ).toEqual([]);
  });
});

describe('narrowing type changes', () => {
  const cases: Array<[string, string, boolean]> = [
    ['bigint', 'integer', true],
    ['integer', 'smallint', true],
    ['varchar(100)', 'varchar(50)', true],
    ['text', 'varchar(20)', true],
    ['numeric(10,2)', 'numeric(8,2)', true],
    ['numeric(10,2)', 'integer', true],
    ['integer', 'bigint', false],
    ['varchar(50)', 'varchar(100)', false],
    ['varchar(50)', 'text', false],
    ['numeric(8,2)', 'numeric(10,2)', false],
  ];
  it.each(cases)('%s -> %s is data loss: %s', async (from, to, lossy) => {
    const got = await plan([`ALTER TABLE a ALTER COLUMN x TYPE ${to}`], {
      schema: `CREATE TABLE a (x ${from})`,
    });
    expect(got.includes('lossy-type-change')).toBe(lossy);
  });

  it('USING NULL throws every value away', async () => {
    const got = await plan(['ALTER TABLE a ALTER COLUMN x TYPE integer USING NULL'], {
      schema: 'CREATE TABLE a (x text)',
    });
    expect(got).toContain('lossy-type-change');
  });

  it('is no data loss on a table created in the plan', async () => {
    expect(await plan(['CREATE TABLE a (x bigint); ALTER TABLE a ALTER COLUMN x TYPE integer'])).toEqual([]);
  });
});

describe('DROP NOT NULL', () => {
  it('is backward incompatible on an existing column, in any ALTER TABLE shape', async () => {
    for (const sql of [
      'ALTER TABLE a ALTER COLUMN x DROP NOT NULL',
      'ALTER TABLE ONLY public.a ALTER x DROP NOT NULL',
      'ALTER TABLE a ADD COLUMN y int, ALTER COLUMN x DROP NOT NULL',
    ])
      expect(await plan([sql])).toContain('drop-not-null');
  });

  it('is not on a column created in the plan', async () => {
    expect(
      await plan([
        'ALTER TABLE a ADD COLUMN y int NOT NULL DEFAULT 0',
        'ALTER TABLE a ALTER COLUMN y DROP NOT NULL',
      ]),
    ).toEqual([]);
  });
});

describe('objects created earlier in the plan', () => {
  it('an index created in the plan can be renamed and dropped without a locking finding', async () => {
    const tx = { options: { implicitTransaction: true, requireLockTimeout: true } };
    const got = await plan(
      ['CREATE TABLE t (c int); CREATE INDEX i ON t (c)', 'ALTER INDEX i RENAME TO j; DROP INDEX j'],
      tx,
    );
    expect(got).toEqual([]);
  });

  it("TypeORM's enum change on a brand-new database (rename to *_old, create, alter, drop *_old) is not a drop", async () => {
    const got = await plan([
      `CREATE TABLE "user_profile" ("userId" text PRIMARY KEY)`,
      `CREATE TYPE "e" AS ENUM('a', 'b'); ALTER TABLE "user_profile" ADD "kinds" "e" array NOT NULL DEFAULT '{}'`,
      `ALTER TYPE "public"."e" RENAME TO "e_old"; CREATE TYPE "public"."e" AS ENUM('a', 'c');
       ALTER TABLE "user_profile" ALTER COLUMN "kinds" DROP DEFAULT;
       ALTER TABLE "user_profile" ALTER COLUMN "kinds" TYPE "public"."e"[] USING "kinds"::"text"::"public"."e"[];
       ALTER TABLE "user_profile" ALTER COLUMN "kinds" SET DEFAULT '{}'; DROP TYPE "public"."e_old"`,
    ]);
    expect(got).toEqual([]);
  });

  it('the rename of an enum that existed before the plan still leaves its drop a drop', async () => {
    expect(await plan(['ALTER TYPE e RENAME TO e_old', 'DROP TYPE e_old'])).toContain('drop-type');
  });

  it('tables and columns created in the plan, renamed, then dropped are no data loss', async () => {
    const got = await plan([
      'CREATE TABLE n (x int); ALTER TABLE a ADD COLUMN y int',
      'ALTER TABLE n RENAME TO n2; ALTER TABLE a RENAME COLUMN y TO z',
      'DROP TABLE n2; ALTER TABLE a DROP COLUMN z',
    ]);
    expect(got).toEqual([]);
  });
});

describe('option lists', () => {
  it('VACUUM (FULL FALSE) is not VACUUM FULL; (FULL), (FULL TRUE), (FULL 1) are', async () => {
    expect(await plan(['VACUUM (FULL FALSE) t'])).toEqual([]);
    expect(await plan(['VACUUM (FULL off, ANALYZE) t'])).toEqual([]);
    for (const sql of ['VACUUM (FULL) t', 'VACUUM (FULL TRUE) t', 'VACUUM (FULL 1) t'])
      expect(await plan([sql])).toEqual(['vacuum-full']);
  });

  it('REINDEX (CONCURRENTLY FALSE) is not concurrent', async () => {
    expect(await plan(['REINDEX (CONCURRENTLY FALSE) TABLE t'])).toEqual(['reindex-not-concurrently']);
  });
});

describe('SET NOT NULL behind a validated CHECK (col IS NOT NULL)', () => {
  const schema = 'ALTER TABLE foo ADD CONSTRAINT foo_bar_not_null CHECK (bar IS NOT NULL) NOT VALID;';
  it('skips the scan when the check, from the existing schema, is validated first', async () => {
    const sql = `ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null; ALTER TABLE foo ALTER COLUMN bar SET NOT NULL`;
    expect(await plan([sql], { schema })).toEqual([]);
  });

  it('a check already validated in the schema dump counts too', async () => {
    const validated = 'CREATE TABLE foo (bar int, CONSTRAINT c CHECK (bar IS NOT NULL))';
    expect(await plan(['ALTER TABLE foo ALTER COLUMN bar SET NOT NULL'], { schema: validated })).toEqual([]);
  });

  it('then dropping the now redundant check is not a destructive drop; dropping it without SET NOT NULL is', async () => {
    const sql = `ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null; ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
      ALTER TABLE foo DROP CONSTRAINT foo_bar_not_null`;
    expect(await plan([sql], { schema })).toEqual([]);
    expect(await plan(['ALTER TABLE foo DROP CONSTRAINT foo_bar_not_null'], { schema })).toEqual([
      'drop-constraint',
    ]);
  });

  it('a NOT VALID check alone, or one on another column, does not', async () => {
    expect(await plan(['ALTER TABLE foo ALTER COLUMN bar SET NOT NULL'], { schema })).toEqual([
      'set-not-null',
    ]);
    const other =
      'ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null; ALTER TABLE foo ALTER COLUMN baz SET NOT NULL';
    expect(await plan([other], { schema })).toEqual(['set-not-null']);
  });
});

describe('ALTER COLUMN TYPE ... USING a plain cast of the column', () => {
  const schema = 'CREATE TABLE a (x varchar(100))';
  it('is judged by the types: varchar(100) -> varchar(200) USING x::varchar(200) does not rewrite', async () => {
    const got = await plan(['ALTER TABLE a ALTER COLUMN x TYPE varchar(200) USING x::varchar(200)'], {
      schema,
    });
    expect(got).not.toContain('alter-column-type');
    expect(await plan(['ALTER TABLE a ALTER COLUMN x TYPE text USING x'], { schema })).toEqual([]);
  });

  it('a USING that computes something still counts as a rewrite', async () => {
    const got = await plan(['ALTER TABLE a ALTER COLUMN x TYPE text USING lower(x)'], { schema });
    expect(got).toContain('alter-column-type');
  });
});

describe('renames that leave a stand-in under the old name (Atlas: backward compatible)', () => {
  it('a table renamed with a view under its old name, a column renamed and re-added', async () => {
    const got = await plan([
      'ALTER TABLE users RENAME TO atlas_users; CREATE VIEW users AS SELECT * FROM atlas_users',
      'ALTER TABLE posts RENAME COLUMN id TO uid; ALTER TABLE posts ADD COLUMN id int DEFAULT 0',
    ]);
    expect(got).toEqual([]);
    expect(await plan(['ALTER TABLE cards RENAME COLUMN id TO cid'])).toEqual(['rename-column']);
  });
});

describe('DROP ... IF EXISTS of what the database does not have', () => {
  const schema = `CREATE TABLE public.kept (id int); CREATE TYPE public.mood AS ENUM ('a')`;
  it('is a no-op when the schema is known (Misskey: DROP TABLE IF EXISTS on a brand-new database)', async () => {
    expect(await plan([`DROP TABLE IF EXISTS "sso_service_provider"`], { schema })).toEqual([]);
    expect(await plan([`DROP TYPE IF EXISTS "public"."gone_enum"`], { schema })).toEqual([]);
    // Nor does it lock anything, or drop an index without CONCURRENTLY.
    expect(
      await plan(
        [`DROP TABLE IF EXISTS gone; DROP INDEX IF EXISTS "public"."IDX_gone"; CREATE TABLE gone (id int)`],
        { schema, options: { implicitTransaction: true } },
      ),
    ).toEqual([]);
  });
  it('is still a drop when the object exists, or when the schema is unknown', async () => {
    expect(await plan([`DROP TABLE IF EXISTS kept`], { schema })).toContain('drop-table');
    expect(await plan([`DROP TYPE IF EXISTS mood`], { schema })).toContain('drop-type');
    expect(await plan([`DROP TABLE IF EXISTS sso_service_provider`])).toContain('drop-table');
    // The public schema is in no dump: DROP SCHEMA IF EXISTS stays reported.
    expect(await plan([`DROP SCHEMA IF EXISTS public`], { schema })).toContain('drop-schema');
  });
});
