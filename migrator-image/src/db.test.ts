import { loadConfig } from './config.js';
import { checksClientConnection, sessionOptions } from './db.js';

const cfg = loadConfig({ PGHOST: 'h', PGDATABASE: 'd', PGUSER: 'u' });

describe('session options', () => {
  it('ask PostgreSQL 14+ to notice a vanished migrator within a second', () => {
    expect(sessionOptions(cfg, 150004)).toBe(
      '-c lock_timeout=10s -c statement_timeout=0s -c idle_in_transaction_session_timeout=600s -c client_connection_check_interval=1s',
    );
    expect(checksClientConnection(140000)).toBe(true);
  });

  it('leave the setting out for PostgreSQL 13, which rejects it at connection start', () => {
    expect(sessionOptions(cfg, 130020)).not.toMatch(/client_connection_check_interval/);
    expect(checksClientConnection(139999)).toBe(false);
  });
});
