import { parse } from 'yaml';
import { renderCrdYaml } from '../render.js';
import { validateSpec } from '../database-migration.js';
import { HOST_PATTERN, scrubTarget, sslModeOf, targetKeyOf } from './database.js';
import { minimalSpec } from '../../test/lib/spec.js';

const spec = (host: string) => minimalSpec({ database: { host } });

describe('spec.database.host', () => {
  it.each([
    'db',
    'postgres.db.svc',
    'postgres.db.svc.cluster.local',
    'Shop-DB.example.com',
    'a1.b2.c3',
    `${'a'.repeat(63)}.example`,
    '10.0.0.12',
    '127.0.0.1',
    '::1',
    'fe80::1',
    '2001:db8::42',
    '2001:0db8:0000:0000:0000:ff00:0042:8329',
    '::ffff:192.0.2.1',
  ])('%s is accepted', (host) => {
    expect(validateSpec(spec(host))).toEqual(expect.objectContaining({ ok: true }));
  });

  it.each([
    'postgres://admin:secret@db:5432/shop',
    'admin:secret@db',
    'admin@db',
    'db:5432',
    'db/shop',
    'host=db password=secret',
    'db?password=secret',
    '[::1]',
    'a..b',
    '-db',
    'db-',
    '.db',
    'db.',
    'db_1',
    `${'a'.repeat(64)}.example`,
    '999.1.1.1',
    '1.2.3',
    '1::2::3',
    '12345::1',
  ])('%s is refused, naming the field', (host) => {
    const r = validateSpec(spec(host));
    expect(r).toEqual(expect.objectContaining({ ok: false, field: 'spec.database.host' }));
    // The message never repeats the value (it may hold a password).
    expect(JSON.stringify(r)).not.toContain('secret');
  });

  it('the generated CRD carries the same pattern, so the API server refuses it too', () => {
    type Node = { properties: Record<string, Node>; pattern?: string; maxLength?: number };
    const crd = parse(renderCrdYaml()) as {
      spec: { versions: { schema: { openAPIV3Schema: Node } }[] };
    };
    const host =
      crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec!.properties.database!.properties.host!;
    expect(host.pattern).toBe(HOST_PATTERN.source);
    expect(host.maxLength).toBe(253);
    const re = new RegExp(host.pattern!);
    expect(re.test('postgres://admin:secret@db:5432/shop')).toBe(false);
    expect(re.test('postgres.db.svc')).toBe(true);
    expect(re.test('2001:db8::42')).toBe(true);
  });
});

describe('a target written before host was checked', () => {
  it.each([
    ['postgres://admin:secret@db:5432/shop:5432/shop', 'db:5432/shop:5432/shop'],
    ['admin:secret@db:5432/shop', 'db:5432/shop'],
    ['a:p@ss@db:5432/shop', 'db:5432/shop'],
    ['db.svc:5432/shop', 'db.svc:5432/shop'],
    ['secret:apps/app-db-app', 'secret:apps/app-db-app'],
    ['2001:db8::42:5432/shop', '2001:db8::42:5432/shop'],
  ])('%s renders as %s', (stored, shown) => {
    expect(scrubTarget(stored)).toBe(shown);
  });

  it('targetKeyOf drops the credentials of a stored host', () => {
    expect(targetKeyOf({ host: 'postgres://admin:secret@DB', database: 'shop' }, 'apps')).toBe(
      'db:5432/shop',
    );
  });
});

describe('spec.database.sslMode', () => {
  const db = (extra: Record<string, unknown>) => {
    const r = validateSpec(minimalSpec({ database: { host: 'db', ...extra } }));
    if (!r.ok) throw new Error(r.message);
    return r.spec.database;
  };

  it('defaults to require, and to verify-full when tls names a CA bundle', () => {
    expect(sslModeOf(db({}))).toBe('require');
    expect(sslModeOf(db({ tls: { caSecretRef: { name: 'db-ca' } } }))).toBe('verify-full');
    expect(sslModeOf(db({ tls: { caConfigMapRef: { name: 'db-ca' } } }))).toBe('verify-full');
    expect(sslModeOf(db({ tls: { clientCertSecretRef: { name: 'client' } } }))).toBe('require');
  });

  it.each(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])('%s when chosen', (mode) => {
    expect(sslModeOf(db({ sslMode: mode, tls: { caSecretRef: { name: 'db-ca' } } }))).toBe(mode);
  });

  it('the CRD has no default for it (the operator decides, knowing tls)', () => {
    type Node = { properties: Record<string, Node>; default?: unknown; description?: string };
    const crd = parse(renderCrdYaml()) as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } };
    const ssl =
      crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec!.properties.database!.properties.sslMode!;
    expect(ssl.default).toBeUndefined();
    expect(ssl.description).toMatch(/verify-full when tls names a CA bundle.*else require/);
  });
});
