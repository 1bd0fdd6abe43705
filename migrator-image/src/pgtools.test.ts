import { clientServerMismatch, parseClientVersion, serverVersionFromNum } from './pgtools.js';

describe('client and server versions', () => {
  it('reads the version of pg_dump and pg_restore', () => {
    expect(parseClientVersion('pg_dump (PostgreSQL) 18.6 (Debian 18.6-3)\n')).toEqual({
      major: 18,
      version: '18.6',
    });
    expect(parseClientVersion('pg_restore (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)')).toEqual({
      major: 15,
      version: '15.14',
    });
    expect(parseClientVersion('pg_dump (PostgreSQL) 17beta1')).toEqual({ major: 17, version: '17' });
    expect(parseClientVersion('pg_dump (PostgreSQL) 9.6.24')).toEqual({ major: 9.6, version: '9.6.24' });
    expect(parseClientVersion('not a pg tool')).toBeUndefined();
  });

  it('reads server_version_num', () => {
    expect(serverVersionFromNum(170010, '17.10')).toEqual({ major: 17, version: '17.10' });
    expect(serverVersionFromNum(180004, '18.4 (Debian 18.4-1)')).toEqual({ major: 18, version: '18.4' });
    expect(serverVersionFromNum(130023)).toEqual({ major: 13, version: '13.23' });
    expect(serverVersionFromNum(90624)).toEqual({ major: 9.6, version: '9.6.24' });
    expect(serverVersionFromNum(90224)).toEqual({ major: 9.2, version: '9.2.24' });
  });

  it('accepts a server of the same or an older major, whatever the minor', () => {
    const client = { major: 15, version: '15.14' };
    expect(clientServerMismatch('pg_dump', client, { major: 15, version: '15.18' })).toBeUndefined();
    expect(clientServerMismatch('pg_dump', client, { major: 13, version: '13.23' })).toBeUndefined();
    expect(clientServerMismatch('pg_dump', client, { major: 9.6, version: '9.6.24' })).toBeUndefined();
    expect(
      clientServerMismatch('pg_restore', { major: 18, version: '18.6' }, { major: 18, version: '18.4' }),
    ).toBeUndefined();
  });

  it('names both versions and the client needed when the server is newer', () => {
    const client = { major: 15, version: '15.14' };
    expect(clientServerMismatch('pg_dump', client, { major: 17, version: '17.10' })).toBe(
      'pg_dump 15.14 cannot dump a PostgreSQL 17.10 server: the migrator image needs pg_dump >= 17',
    );
    expect(clientServerMismatch('pg_restore', client, { major: 18, version: '18.4' })).toBe(
      'pg_restore 15.14 cannot restore into a PostgreSQL 18.4 server: the migrator image needs pg_restore >= 18',
    );
    expect(
      clientServerMismatch('pg_dump', { major: 9.6, version: '9.6.24' }, { major: 10, version: '10.1' }),
    ).toMatch(/needs pg_dump >= 10$/);
  });
});
