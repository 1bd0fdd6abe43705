import {
  clientServerMismatch,
  headerFilter,
  parseClientVersion,
  serverVersionFromNum,
  TRANSACTION_TIMEOUT_SET,
} from './pgtools.js';

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

describe('headerFilter', () => {
  const script = [
    '--',
    '\\restrict abc',
    'SET statement_timeout = 0;',
    'SET transaction_timeout = 0;',
    "SELECT pg_catalog.set_config('search_path', '', false);",
    'SET check_function_bodies = false;',
    'COPY public.t (s) FROM stdin;',
    'SET transaction_timeout = 0;',
    'é€ data',
    '\\.',
    '',
  ].join('\n');

  it.each([1, 3, 7, 64, 10_000])('drops the setting in the header only, in chunks of %i bytes', (size) => {
    const filter = headerFilter([TRANSACTION_TIMEOUT_SET]);
    const bytes = Buffer.from(script, 'utf8');
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) out.push(filter(bytes.subarray(i, i + size)));
    out.push(filter(null));
    expect(Buffer.concat(out).toString('utf8')).toBe(script.replace('SET transaction_timeout = 0;\n', ''));
  });

  it('passes a script without a header end through untouched at the end', () => {
    const filter = headerFilter([TRANSACTION_TIMEOUT_SET]);
    const out = Buffer.concat([
      filter(Buffer.from('-- a\nSET transaction_timeout = 0;\nno newline')),
      filter(null),
    ]);
    expect(out.toString()).toBe('-- a\nno newline');
  });
});

describe('backup compression', () => {
  it('maps the method to pg_dump -Z, refusing lz4/zstd on a pg_dump older than 16', async () => {
    const { compressionArgs } = await import('./commands/backup.js');
    expect(compressionArgs(undefined, 15)).toEqual([]);
    expect(compressionArgs('gzip', 18)).toEqual([]);
    expect(compressionArgs('none', 13)).toEqual(['-Z', '0']);
    expect(compressionArgs('lz4', 18)).toEqual(['-Z', 'lz4']);
    expect(compressionArgs('zstd', 16)).toEqual(['-Z', 'zstd']);
    expect(() => compressionArgs('lz4', 15)).toThrow(
      /BACKUP_COMPRESSION=lz4 needs pg_dump 16 or newer; this pg_dump is 15/,
    );
  });
});
