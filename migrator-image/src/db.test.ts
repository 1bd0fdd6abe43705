import { loadConfig } from './config.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checksClientConnection, sessionOptions, sslFor } from './db.js';

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

describe('sslFor (PGSSLMODE as libpq reads it)', () => {
  it('require encrypts without verifying the server; verify-full verifies the chain and the host', () => {
    expect(sslFor('require', {})).toEqual({ rejectUnauthorized: false });
    const full = sslFor('verify-full', {});
    expect(full).toEqual({ rejectUnauthorized: true });
  });

  it('require with a CA bundle verifies the chain, as libpq (and so pg_dump) does', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbm-ssl-'));
    try {
      const ca = path.join(dir, 'ca.crt');
      writeFileSync(ca, 'PEM');
      const opts = sslFor('require', { PGSSLROOTCERT: ca });
      expect(opts).toMatchObject({ rejectUnauthorized: true, ca: 'PEM' });
      // verify-ca: not the host name.
      expect(opts && opts.checkServerIdentity?.('h', {} as never)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('disable, allow: no TLS', () => {
    expect(sslFor('disable', {})).toBe(false);
    expect(sslFor('allow', {})).toBe(false);
  });
});
