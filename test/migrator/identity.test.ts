// The check reports the target database by its identity (the server's
// system_identifier and the database oid), not by how its host is spelled:
// two spellings of one database give one key, two databases two keys.
import { createDatabase, migrationsDir, runMigrator } from './helpers.js';

it('one database reached as 127.0.0.1 and as localhost has one identity; another database has another', async () => {
  const dbs = [await createDatabase('ident_a'), await createDatabase('ident_b')];
  const keys: string[] = [];
  for (const db of dbs) {
    const env = { PGDATABASE: db, MIGRATIONS_DIR: migrationsDir('base') };
    expect((await runMigrator('migrate', env)).code).toBe(0);
    for (const host of ['127.0.0.1', 'localhost']) {
      const c = await runMigrator('check', { ...env, PGHOST: host });
      expect(c.result.error).toBeUndefined();
      expect(c.result.database).toMatchObject({
        key: expect.stringMatching(/^[0-9a-f]{32}$/),
        // The test's role is a superuser: it reads the cluster's system_identifier.
        server: expect.stringMatching(/^system:\d+$/),
      });
      keys.push(c.result.database!.key);
    }
  }
  expect(keys[0]).toBe(keys[1]);
  expect(keys[2]).toBe(keys[3]);
  expect(keys[0]).not.toBe(keys[2]);
}, 120_000);
