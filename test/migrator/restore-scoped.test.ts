// A scoped restore puts back what the run touched and nothing else: a database
// with schemas app and billing, a release on app that fails and is restored
// while another writer adds rows to billing: billing keeps every row.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabase, runMigrator, tempDir, withDb } from './helpers.js';

it('RESTORE_SCHEMAS=app: app back as the backup saw it, billing keeps the rows written since', async () => {
  const db = await createDatabase('scoped');
  await withDb(db, async (c) => {
    await c.query('CREATE SCHEMA app');
    await c.query('CREATE SCHEMA billing');
    await c.query('CREATE TABLE app.accounts (id int PRIMARY KEY, name text)');
    await c.query(`INSERT INTO app.accounts SELECT g, 'a' || g FROM generate_series(1, 10) g`);
    await c.query('CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount int)');
    await c.query('INSERT INTO billing.invoices (amount) SELECT g FROM generate_series(1, 100) g');
  });
  const dir = tempDir('scoped-migrations');
  writeFileSync(
    path.join(dir, '1790000000000-Orders.js'),
    `export class Orders1790000000000 {
  async up(q) { await q.query('CREATE TABLE app.orders (id int)'); await q.query('ALTER TABLE app.accounts ADD COLUMN tier text'); }
  async down(q) { await q.query('ALTER TABLE app.accounts DROP COLUMN tier'); await q.query('DROP TABLE app.orders'); }
}
`,
  );
  const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, MIGRATIONS_SCHEMA: 'app' };
  const b = await runMigrator('backup', { ...env, BACKUP_DIR: tempDir('scoped-backups'), BACKUP_ID: 's1' });
  expect(b.code).toBe(0);
  expect((await runMigrator('migrate', env)).code).toBe(0);
  // Another app writes to billing after the backup.
  await withDb(db, (c) =>
    c.query('INSERT INTO billing.invoices (amount) SELECT g FROM generate_series(1, 20) g'),
  );

  const r = await runMigrator('restore', {
    ...env,
    BACKUP_PATH: b.result.backup!.path,
    RESTORE_SCHEMAS: 'app',
  });
  expect(r.result.error).toBeUndefined();
  expect(r.code).toBe(0);
  expect(r.result.backup?.verified).toBe(true);
  await withDb(db, async (c) => {
    expect((await c.query(`SELECT to_regclass('app.orders') AS t`)).rows[0].t).toBeNull();
    const cols = await c.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'accounts' ORDER BY ordinal_position`,
    );
    expect(cols.rows.map((x) => x.column_name)).toEqual(['id', 'name']);
    expect((await c.query('SELECT count(*)::int AS n FROM app.accounts')).rows[0].n).toBe(10);
    // Every billing row stays, the 20 written after the backup included.
    expect((await c.query('SELECT count(*)::int AS n FROM billing.invoices')).rows[0].n).toBe(120);
    const m = await c
      .query(`SELECT count(*)::int AS n FROM app.migrations`)
      .catch(() => ({ rows: [{ n: 0 }] }));
    expect(m.rows[0].n).toBe(0);
  });
}, 240_000);

it('the check blocks a release that changes a schema spec.backup.restoreSchemas leaves out (restore-scope, dataLoss)', async () => {
  const db = await createDatabase('scope_check');
  await withDb(db, async (c) => {
    await c.query('CREATE SCHEMA app');
    await c.query('CREATE SCHEMA billing');
    await c.query('CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount int)');
  });
  const dir = tempDir('scope-check-migrations');
  writeFileSync(
    path.join(dir, '1790000001000-InvoiceNote.js'),
    `export class InvoiceNote1790000001000 {
  async up(q) { await q.query('CREATE TABLE app.notes (id int)'); await q.query('ALTER TABLE billing.invoices ADD COLUMN note text'); }
  async down(q) { await q.query('ALTER TABLE billing.invoices DROP COLUMN note'); await q.query('DROP TABLE app.notes'); }
}
`,
  );
  const env = { PGDATABASE: db, MIGRATIONS_DIR: dir, MIGRATIONS_SCHEMA: 'app', TRANSACTION_MODE: 'each' };
  const scoped = await runMigrator('check', { ...env, RESTORE_SCHEMAS: 'app' });
  expect(scoped.result.error).toBeUndefined();
  const found = (scoped.result.plan?.findings ?? []).filter((f) => f.rule === 'restore-scope');
  expect(found).toEqual([
    expect.objectContaining({
      category: 'dataLoss',
      severity: 'error',
      migration: 'InvoiceNote1790000001000',
      message: expect.stringContaining('changes schema billing'),
    }),
  ]);
  const wider = await runMigrator('check', { ...env, RESTORE_SCHEMAS: 'app,billing' });
  expect((wider.result.plan?.findings ?? []).filter((f) => f.rule === 'restore-scope')).toEqual([]);
}, 240_000);
