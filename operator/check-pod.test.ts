import type { V1Container } from '@kubernetes/client-node';
import type { DatabaseMigration } from '../crds/database-migration.js';
import { DatabaseMigrationSpec } from '../crds/database-migration.js';
import { CAPTURE_CONTAINER, envWithoutTarget } from './check-pod.js';
import { buildJob } from './job-builder.js';

function dmOf(
  database: Record<string, unknown>,
  jobTemplate: Record<string, unknown> = {},
): DatabaseMigration {
  return {
    apiVersion: 'dbmigrate.io/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name: 'shop', namespace: 'apps', uid: 'u1', generation: 1 },
    spec: DatabaseMigrationSpec.parse({
      database,
      migrations: { image: 'shop:2' },
      backup: { pvcName: 'backups' },
      jobTemplate,
    }),
  };
}
const run = { uid: 'u1', name: 'shop', generation: 1, attempt: 1 };
const config = { migratorImage: 'migrator:1', imagePullPolicy: 'IfNotPresent' as const };

/** Every Secret a container can read, by env reference or envFrom. */
function secretsOf(c: V1Container): string[] {
  return [
    ...(c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef?.name ? [e.valueFrom.secretKeyRef.name] : [])),
    ...(c.envFrom ?? []).flatMap((e) => (e.secretRef?.name ? [e.secretRef.name] : [])),
  ];
}

describe('the check Pod: only the capture container holds the target', () => {
  const cases = {
    'host and password Secret': {
      host: 'pg.db',
      database: 'shop',
      user: 'app',
      passwordSecretRef: { name: 'db', key: 'password' },
    },
    'connection Secret and client certificate': {
      connectionSecretRef: { name: 'conn' },
      sslMode: 'verify-full',
      tls: { caSecretRef: { name: 'ca' }, clientCertSecretRef: { name: 'client' } },
    },
  };
  it.each(Object.entries(cases))('%s', (_, database) => {
    // The user's own env names the target too (a URL kept in a ConfigMap): the check container drops it.
    const dm = dmOf(database, {
      env: [
        { name: 'DATABASE_URL', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'url' } } },
        { name: 'FEATURE_FLAG', value: 'on' },
      ],
      envFrom: [{ configMapRef: { name: 'app-config' } }],
    });
    const pod = buildJob(dm, run, 'check', config).spec!.template.spec!;
    const check = pod.containers[0]!;
    const capture = pod.initContainers!.find((c) => c.name === CAPTURE_CONTAINER)!;
    expect(capture.args).toEqual(['capture']);
    expect(capture.env!.map((e) => e.name)).toEqual(
      expect.arrayContaining(['PGHOST', 'PGUSER', 'PGPASSWORD', 'CAPTURE_DIR']),
    );
    // The check container: no connection variable, no target Secret, no TLS client files; the capture instead.
    expect(check.env!.filter((e) => /^(PG|DATABASE_URL)/.test(e.name))).toEqual([]);
    expect(secretsOf(check)).toEqual([]);
    expect(check.env!.map((e) => e.name)).toEqual(expect.arrayContaining(['CAPTURE_DIR', 'FEATURE_FLAG']));
    expect(check.envFrom).toEqual([{ configMapRef: { name: 'app-config' } }]);
    expect((check.volumeMounts ?? []).filter((m) => m.mountPath.startsWith('/etc/dbmigrate/tls'))).toEqual(
      [],
    );
    expect(check.volumeMounts).toContainEqual({ name: 'capture', mountPath: '/capture', readOnly: true });
    // The capture runs no migration code: it has no migrations mounted.
    expect((capture.volumeMounts ?? []).map((m) => m.mountPath)).not.toContain('/migrations');
  });

  it('user env read from the target Secrets (chart defaults) is dropped by name and by reference', () => {
    const db = dmOf(cases['connection Secret and client certificate']).spec.database;
    const out = envWithoutTarget(
      db,
      [
        { name: 'APP_PW', valueFrom: { secretKeyRef: { name: 'conn', key: 'password' } } },
        { name: 'TYPEORM_URL', value: 'postgres://x' },
        { name: 'KEEP', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } },
      ],
      [{ secretRef: { name: 'client' } }, { secretRef: { name: 'other' } }],
    );
    expect(out.env.map((e) => e.name)).toEqual(['KEEP']);
    expect(out.envFrom).toEqual([{ secretRef: { name: 'other' } }]);
  });

  it("gives each container its share of the kubelet's 12 KiB of termination messages", () => {
    const pod = buildJob(dmOf(cases['host and password Secret']), run, 'check', config).spec!.template.spec!;
    // stage-copier, copy-migrations, capture, migrator: 12 KiB / 4.
    expect(pod.initContainers).toHaveLength(3);
    for (const c of [...pod.initContainers!.filter((i) => i.name === CAPTURE_CONTAINER), pod.containers[0]!])
      expect(c.env).toContainEqual({ name: 'RESULT_MAX_BYTES', value: '3072' });
    const migrate = buildJob(dmOf(cases['host and password Secret']), run, 'migrate', config).spec!.template
      .spec!;
    expect(migrate.containers[0]!.env).toContainEqual({ name: 'RESULT_MAX_BYTES', value: '4096' });
  });

  it('other steps keep the connection in their one container', () => {
    const dm = dmOf(cases['host and password Secret']);
    const pod = buildJob(dm, run, 'migrate', config).spec!.template.spec!;
    expect(pod.initContainers!.map((c) => c.name)).not.toContain(CAPTURE_CONTAINER);
    expect(pod.containers[0]!.env!.map((e) => e.name)).toContain('PGPASSWORD');
  });
});
