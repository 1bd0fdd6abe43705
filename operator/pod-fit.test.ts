import { DatabaseSpec } from '../crds/database-migration.js';
import { connectionEnv, targetDescription } from './pod-fit.js';

const db = (extra: Record<string, unknown> = {}) =>
  DatabaseSpec.parse({
    host: 'pg.db.svc',
    database: 'shop',
    user: 'app',
    passwordSecretRef: { name: 'shop-db', key: 'password' },
    ...extra,
  });
const sslmode = (d: DatabaseSpec) => connectionEnv(d).find((e) => e.name === 'PGSSLMODE')?.value;

describe('PGSSLMODE of the Jobs', () => {
  it('require by default, verify-full with a CA bundle, the chosen mode otherwise', () => {
    expect(sslmode(db())).toBe('require');
    expect(sslmode(db({ tls: { caConfigMapRef: { name: 'pg-ca' } } }))).toBe('verify-full');
    expect(sslmode(db({ sslMode: 'disable' }))).toBe('disable');
    expect(
      sslmode(
        db({
          connectionSecretRef: { name: 'app-db-app' },
          host: undefined,
          database: undefined,
          user: undefined,
          passwordSecretRef: undefined,
        }),
      ),
    ).toBe('require');
  });
});

describe('the dbmigrate.io/target annotation', () => {
  it("never carries a stored URL's credentials", () => {
    const stored = { ...db(), host: 'postgres://admin:secret@db' };
    expect(targetDescription(stored)).toBe('db:5432/shop');
  });
});
