// A transaction-mode pooler hands each statement outside a transaction to any
// free server connection. The migrator's session-level advisory lock then
// guards nothing; it must say so instead of migrating. Played here with two
// real PostgreSQL sessions taking statements in turn, as such a pooler does.
import pg from 'pg';
import { loadConfig } from '../../migrator-image/src/config.js';
import { acquireLock, pgRows, POOLER_MESSAGE, type RowQuery } from '../../migrator-image/src/db.js';
import { adminConfig, createDatabase } from './helpers.js';

const T = 60_000;

async function sessions(database: string, n: number): Promise<pg.Client[]> {
  const clients = Array.from({ length: n }, () => new pg.Client(adminConfig(database)));
  await Promise.all(clients.map((c) => c.connect()));
  return clients;
}

describe('the migration lock needs a session', () => {
  it(
    'behind a transaction-mode pooler (statements on alternating backends) the lock fails with an actionable message and is not left behind',
    async () => {
      const db = await createDatabase('pooler');
      const cfg = loadConfig({ PGHOST: 'h', PGDATABASE: db, PGUSER: 'u', ADVISORY_LOCK_WAIT_SECONDS: '1' });
      const [a, b, observer] = await sessions(db, 3);
      try {
        let turn = 0;
        const pooled: RowQuery = (sql, params) => pgRows([a!, b!][turn++ % 2]!)(sql, params);
        await expect(acquireLock(pooled, cfg)).rejects.toThrow(POOLER_MESSAGE);
        expect(POOLER_MESSAGE).toMatch(/transaction-mode pooler/);
        // The unlock went to the backend that held it (the next in turn): nothing is left locked.
        const held = await observer!.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = $1)`,
          [db],
        );
        expect(held.rows[0]).toEqual({ n: 0 });
        // One session (a direct connection, or a session-mode pool) takes it.
        const unlock = await acquireLock(pgRows(a!), cfg);
        await unlock();
      } finally {
        await Promise.all([a, b, observer].map((c) => c!.end()));
      }
    },
    T,
  );
});
