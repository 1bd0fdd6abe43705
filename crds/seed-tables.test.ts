import { DatabaseMigrationSpec } from './database-migration.js';
import type { DatabaseMigration } from './database-migration.js';
import { buildJob } from '../operator/job-builder.js';
import { minimalSpec } from '../test/lib/spec.js';

const base = minimalSpec();
const withSeed = (seedTables: unknown) => DatabaseMigrationSpec.safeParse({ ...base, check: { seedTables } });

describe('spec.check.seedTables', () => {
  it('takes table names, schema-qualified or not, and defaults to none', () => {
    expect(withSeed(['colors', 'ref.countries', 'Big_Table$2']).success).toBe(true);
    expect(DatabaseMigrationSpec.parse({ ...base, check: {} }).check?.seedTables).toEqual([]);
  });

  it.each([['colors; DROP TABLE x'], ['a.b.c'], ['"Quoted"'], ['1abc'], ['']])(
    'refuses %j naming the field',
    (bad) => {
      const r = withSeed([bad]);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(/spec\.check\.seedTables/);
    },
  );

  it('caps the count at 50', () => {
    const r = withSeed(Array.from({ length: 51 }, (_, i) => `t${i}`));
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/spec\.check\.seedTables: at most 50/);
  });

  it('reaches both halves of the check Pod as SEED_TABLES (JSON); absent when empty', () => {
    const dm = (spec: DatabaseMigration['spec']): DatabaseMigration => ({
      apiVersion: 'dbmigrate.io/v1alpha1',
      kind: 'DatabaseMigration',
      metadata: { name: 'shop', namespace: 'apps', uid: 'u1', generation: 1 },
      spec,
    });
    const run = { uid: 'u1', name: 'shop', generation: 1, attempt: 1 };
    const config = { migratorImage: 'migrator:1', imagePullPolicy: 'IfNotPresent' as const };
    const seedOf = (spec: DatabaseMigration['spec']) => {
      const pod = buildJob(dm(spec), run, 'check', config).spec!.template.spec!;
      return [...(pod.initContainers ?? []), ...pod.containers].map(
        (c) => c.env?.find((e) => e.name === 'SEED_TABLES')?.value,
      );
    };
    const seeded = DatabaseMigrationSpec.parse({
      ...base,
      check: { seedTables: ['colors', 'ref.countries'] },
    });
    const values = seedOf(seeded).filter((v) => v !== undefined);
    expect(values.length).toBeGreaterThanOrEqual(2);
    for (const v of values) expect(JSON.parse(v!)).toEqual(['colors', 'ref.countries']);
    expect(seedOf(DatabaseMigrationSpec.parse(base)).every((v) => v === undefined)).toBe(true);
  });
});
