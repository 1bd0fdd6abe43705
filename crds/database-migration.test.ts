import { validateSpec } from './database-migration.js';

const spec = (jobTemplate: Record<string, unknown>) => ({
  database: {
    host: 'postgres.db.svc',
    database: 'shop',
    user: 'app',
    passwordSecretRef: { name: 'db-credentials', key: 'password' },
  },
  migrations: { image: 'example/product-service:2' },
  backup: { pvcName: 'backups' },
  jobTemplate,
});

describe('names the Jobs carry', () => {
  // Found by the generated hostile specs (test/faults/hostile-specs.test.ts): these
  // passed the schema and the API server then refused the Job they went into.
  it.each(['a..b', 'a.-b', 'a-.b', '.a', 'a.'])('%s is refused with the field named', (name) => {
    expect(validateSpec(spec({ serviceAccountName: name }))).toEqual(
      expect.objectContaining({ ok: false, field: 'spec.jobTemplate.serviceAccountName' }),
    );
  });

  it.each(['a', 'migrator', 'db-migrator.team-a', 'a1.b2.c3'])('%s is accepted', (name) => {
    expect(validateSpec(spec({ serviceAccountName: name })).ok).toBe(true);
  });
});
