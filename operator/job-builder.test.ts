import type { DatabaseMigration } from '../crds/database-migration.js';
import { DatabaseMigrationSpec } from '../crds/database-migration.js';
import { buildJob } from './job-builder.js';
import { jobName, labelSafe } from './job-names.js';

const spec = DatabaseMigrationSpec.parse({
  database: {
    host: 'pg.db',
    database: 'shop',
    user: 'app',
    passwordSecretRef: { name: 'db', key: 'password' },
  },
  migrations: { image: 'shop:2' },
  backup: { pvcName: 'backups' },
});
const dm: DatabaseMigration = {
  apiVersion: 'dbmigrate.io/v1alpha1',
  kind: 'DatabaseMigration',
  metadata: { name: 'shop', namespace: 'apps', uid: 'u1', generation: 3 },
  spec,
};
const run = { uid: 'u1', name: 'shop', generation: 3, attempt: 1 };
const config = { migratorImage: 'migrator:1', imagePullPolicy: 'IfNotPresent' as const };

describe('buildJob', () => {
  const job = buildJob(dm, run, 'migrate', config);
  const pod = job.spec!.template.spec!;
  const container = pod.containers[0]!;

  it('runs under restricted Pod Security with no service-account token', () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    }
  });

  it('tells the check what blocks (irreversible too when a failure reverts) and the compatibility queries', () => {
    const envOf = (d: DatabaseMigration): Record<string, string | undefined> =>
      Object.fromEntries(
        buildJob(d, run, 'check', config).spec!.template.spec!.containers[0]!.env!.map((e) => [
          e.name,
          e.value,
        ]),
      );
    const plain = envOf(dm);
    expect(plain.SAFETY_BLOCK).toBe('destructive,dataLoss');
    expect(plain.COMPATIBILITY_QUERIES).toBeUndefined();
    const reverting = DatabaseMigrationSpec.parse({
      ...spec,
      onFailure: 'revert',
      safety: {
        block: ['destructive'],
        compatibility: { queries: ['SELECT id, name FROM products LIMIT 0'] },
      },
    });
    const e = envOf({ ...dm, spec: reverting });
    expect(e.SAFETY_BLOCK).toBe('destructive,irreversible');
    expect(JSON.parse(e.COMPATIBILITY_QUERIES!)).toEqual(['SELECT id, name FROM products LIMIT 0']);
  });

  it('takes the password only through a secretKeyRef', () => {
    const pw = container.env!.find((e) => e.name === 'PGPASSWORD');
    expect(pw).toEqual({ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } });
    expect(JSON.stringify(job)).not.toMatch(/"value":"[^"]*secret/i);
  });

  it('is owned by the resource, labelled for the informer and named deterministically', () => {
    expect(job.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'DatabaseMigration',
      uid: 'u1',
      controller: true,
    });
    expect(job.metadata?.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'database-migration-operator',
      'dbmigrate.io/step': 'migrate',
      'dbmigrate.io/generation': '3',
    });
    expect(job.metadata?.name).toBe(buildJob(dm, run, 'migrate', config).metadata?.name);
    expect(job.metadata?.name).not.toBe(
      buildJob(dm, { ...run, attempt: 2 }, 'migrate', config).metadata?.name,
    );
    expect(pod.restartPolicy).toBe('Never');
    expect(job.spec?.backoffLimit).toBe(0);
  });

  it('copies migrations from the app image with a static copier staged from the migrator image', () => {
    const [stage, copy] = pod.initContainers ?? [];
    expect(stage).toMatchObject({
      name: 'stage-copier',
      image: 'migrator:1',
      command: ['/bin/busybox', 'cp', '/bin/busybox', '/dbm-copier/busybox'],
      volumeMounts: [{ name: 'copier', mountPath: '/dbm-copier' }],
    });
    // No shell in the app image: the staged static binary is the command.
    expect(copy).toMatchObject({
      name: 'copy-migrations',
      image: 'shop:2',
      command: ['/dbm-copier/busybox', 'cp', '-R', '/app/dist/migrations/.', '/migrations/'],
    });
    expect(copy?.volumeMounts).toEqual([
      { name: 'copier', mountPath: '/dbm-copier', readOnly: true },
      { name: 'migrations', mountPath: '/migrations' },
    ]);
    expect(pod.volumes).toContainEqual({ name: 'copier', emptyDir: { sizeLimit: '16Mi' } });
    expect(container.volumeMounts).toContainEqual({
      name: 'migrations',
      mountPath: '/migrations',
      readOnly: true,
    });
    expect(container.volumeMounts?.some((m) => m.name === 'copier')).toBe(false);
    expect(container.env).toContainEqual({ name: 'MIGRATIONS_DIR', value: '/migrations' });
  });

  it("copies copyRoot (the app's dist) and points MIGRATIONS_DIR at the migrations inside it", () => {
    const rooted = DatabaseMigrationSpec.parse({
      ...spec,
      migrations: { image: 'shop:2', path: '/app/dist/db/migrations', copyRoot: '/app/dist/' },
    });
    const p = buildJob({ ...dm, spec: rooted }, run, 'check', config).spec!.template.spec!;
    expect(p.initContainers?.[1]?.command).toEqual([
      '/dbm-copier/busybox',
      'cp',
      '-R',
      '/app/dist/.',
      '/migrations/',
    ]);
    expect(p.containers[0]!.env).toContainEqual({
      name: 'MIGRATIONS_DIR',
      value: '/migrations/db/migrations',
    });
    const same = DatabaseMigrationSpec.parse({
      ...spec,
      migrations: { image: 'shop:2', path: '/app/dist', copyRoot: '/app/dist' },
    });
    const env = buildJob({ ...dm, spec: same }, run, 'migrate', config).spec!.template.spec!.containers[0]!
      .env;
    expect(env).toContainEqual({ name: 'MIGRATIONS_DIR', value: '/migrations' });
  });

  it('refuses a copyRoot that does not contain the migrations path', () => {
    const bad = DatabaseMigrationSpec.safeParse({
      ...spec,
      migrations: { image: 'shop:2', path: '/app/distx/migrations', copyRoot: '/app/dist' },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['migrations', 'copyRoot']);
  });

  it('mounts the app image as an image volume (source: imageVolume): no init containers, no copy', () => {
    const image = `shop@sha256:${'ab'.repeat(32)}`;
    const mounted = DatabaseMigrationSpec.parse({
      ...spec,
      migrations: { image, path: '/app/dist/migrations', source: 'imageVolume' },
    });
    const p = buildJob({ ...dm, spec: mounted }, run, 'migrate', config).spec!.template.spec!;
    expect(p.initContainers).toBeUndefined();
    expect(p.volumes).toContainEqual({
      name: 'migrations',
      image: { reference: image, pullPolicy: 'IfNotPresent' },
    });
    expect(p.volumes?.some((v) => v.name === 'copier')).toBe(false);
    expect(p.containers[0]!.volumeMounts).toContainEqual({
      name: 'migrations',
      mountPath: '/migrations',
      readOnly: true,
    });
    expect(p.containers[0]!.env).toContainEqual({
      name: 'MIGRATIONS_DIR',
      value: '/migrations/app/dist/migrations',
    });
  });

  it('refuses an image volume of a tag: a mounted image reports no digest to pin the run to', () => {
    const tagged = DatabaseMigrationSpec.safeParse({
      ...spec,
      migrations: { image: 'shop:2', source: 'imageVolume' },
    });
    expect(tagged.success).toBe(false);
    expect(tagged.error?.issues[0]?.path).toEqual(['migrations', 'source']);
  });

  it('needs no copier for migrations from a ConfigMap', () => {
    const cm = DatabaseMigrationSpec.parse({ ...spec, migrations: { configMapRef: { name: 'mig' } } });
    const p = buildJob({ ...dm, spec: cm }, run, 'migrate', config).spec!.template.spec!;
    expect(p.initContainers).toBeUndefined();
    expect(p.volumes?.map((v) => v.name)).toEqual(['tmp', 'migrations']);
    expect(p.containers[0]!.env).toContainEqual({ name: 'MIGRATIONS_DIR', value: '/migrations' });
  });

  it('mounts the backup volume only for backup and restore', () => {
    const backup = buildJob(dm, run, 'backup', config).spec!.template.spec!;
    expect(backup.volumes).toContainEqual({
      name: 'backups',
      persistentVolumeClaim: { claimName: 'backups' },
    });
    expect(backup.initContainers).toBeUndefined();
    expect(pod.volumes?.some((v) => v.name === 'backups')).toBe(false);
  });

  it('keeps names and labels within Kubernetes limits for long resource names', () => {
    const long = 'a'.repeat(250);
    const name = jobName({ ...run, name: long }, 'restore');
    expect(name.length).toBeLessThanOrEqual(57);
    expect(labelSafe(long).length).toBeLessThanOrEqual(63);
  });

  it('gives each step its own deadline (else activeDeadlineSeconds), as the Job deadline and STEP_DEADLINE_SECONDS', () => {
    const withDeadlines: DatabaseMigration = {
      ...dm,
      spec: DatabaseMigrationSpec.parse({
        ...spec,
        jobTemplate: { activeDeadlineSeconds: 900, stepDeadlineSeconds: { migrate: 7200, check: 120 } },
      }),
    };
    const deadlines = (['check', 'backup', 'migrate', 'verify', 'revert', 'restore'] as const).map((s) => {
      const j = buildJob(withDeadlines, run, s, config);
      const env = j.spec?.template.spec?.containers[0]?.env ?? [];
      return [s, j.spec?.activeDeadlineSeconds, env.find((e) => e.name === 'STEP_DEADLINE_SECONDS')?.value];
    });
    expect(deadlines).toEqual([
      ['check', 120, '120'],
      ['backup', 900, '900'],
      ['migrate', 7200, '7200'],
      ['verify', 900, '900'],
      ['revert', 900, '900'],
      ['restore', 900, '900'],
    ]);
    expect(() =>
      DatabaseMigrationSpec.parse({ ...spec, jobTemplate: { stepDeadlineSeconds: { migrate: 0 } } }),
    ).toThrow();
  });
});
