import type { DatabaseMigration } from '../crds/database-migration.js';
import { DatabaseMigrationSpec, DatabaseSpec, targetKey, validateSpec } from '../crds/database-migration.js';
import type { JobStep } from '../crds/job-result.js';
import { JobDefaults } from '../crds/pod-template.js';
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

  it("runs every step's Pod as the install's service account with no token, or one the install allows", () => {
    const steps: JobStep[] = ['check', 'backup', 'migrate', 'verify', 'revert', 'restore'];
    for (const step of steps) {
      const p = buildJob(dm, run, step, config).spec!.template.spec!;
      expect(p.automountServiceAccountToken).toBe(false);
      expect(p.serviceAccountName).toBe('default');
      const fixed = buildJob(dm, run, step, { ...config, jobServiceAccount: 'dbm-jobs' }).spec!.template
        .spec!;
      expect(fixed.serviceAccountName).toBe('dbm-jobs');
    }
    const chosen = {
      ...dm,
      spec: { ...dm.spec, jobTemplate: { ...dm.spec.jobTemplate, serviceAccountName: 'irsa' } },
    };
    expect(buildJob(chosen, run, 'migrate', config).spec!.template.spec!.serviceAccountName).toBe('irsa');
  });

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
    expect(plain.SAFETY_BLOCK).toBe('destructive,dataLoss,rehearsal');
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

  it('a scoped restore: the restore and the check get spec.backup.restoreSchemas; the others do not', () => {
    const scoped = { ...dm, spec: { ...spec, backup: { ...spec.backup, restoreSchemas: ['app', 'audit'] } } };
    const envOf = (step: JobStep) =>
      buildJob(
        scoped,
        run,
        step,
        config,
        step === 'restore' ? { backupPath: '/backups/x' } : {},
      ).spec!.template.spec!.containers[0]!.env!.find((e) => e.name === 'RESTORE_SCHEMAS')?.value;
    expect(envOf('restore')).toBe('app,audit');
    expect(envOf('check')).toBe('app,audit');
    expect(envOf('migrate')).toBeUndefined();
    expect(envOf('backup')).toBeUndefined();
  });

  it('points the check at an external shadow server, its password only by reference', () => {
    const withShadow = DatabaseMigrationSpec.parse({
      ...spec,
      check: {
        shadow: { host: 'shadow.db', user: 'checker', passwordSecretRef: { name: 'shadow', key: 'pw' } },
      },
    });
    const env = buildJob({ ...dm, spec: withShadow }, run, 'check', config).spec!.template.spec!
      .containers[0]!.env!;
    expect(env).toEqual(
      expect.arrayContaining([
        { name: 'SHADOW_PGHOST', value: 'shadow.db' },
        { name: 'SHADOW_PGPORT', value: '5432' },
        { name: 'SHADOW_PGDATABASE', value: 'postgres' },
        { name: 'SHADOW_PGPASSWORD', valueFrom: { secretKeyRef: { name: 'shadow', key: 'pw' } } },
      ]),
    );
    // Only the check uses it.
    const migrateEnv = buildJob({ ...dm, spec: withShadow }, run, 'migrate', config).spec!.template.spec!
      .containers[0]!.env!;
    expect(migrateEnv.map((e) => e.name)).not.toContain('SHADOW_PGHOST');
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

describe('buildJob: the connection', () => {
  const withDb = (database: Record<string, unknown>): DatabaseMigration => ({
    ...dm,
    spec: DatabaseMigrationSpec.parse({ ...spec, database }),
  });
  const envOf = (d: DatabaseMigration, step: 'migrate' | 'backup' = 'migrate') =>
    buildJob(d, run, step, config).spec!.template.spec!.containers[0]!.env!;

  it("takes host, port, database, user and password from one Secret (CloudNativePG's <cluster>-app keys) through secretKeyRef only", () => {
    const cnpg = withDb({ connectionSecretRef: { name: 'app-db-app' }, sslMode: 'require' });
    const env = envOf(cnpg);
    const ref = (name: string) => env.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    expect(['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD'].map(ref)).toEqual([
      { name: 'app-db-app', key: 'host' },
      { name: 'app-db-app', key: 'port' },
      { name: 'app-db-app', key: 'dbname' },
      { name: 'app-db-app', key: 'user' },
      { name: 'app-db-app', key: 'password' },
    ]);
    for (const name of ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD'])
      expect(env.find((e) => e.name === name)?.value).toBeUndefined();
    const job = buildJob(cnpg, run, 'migrate', config);
    expect(job.metadata?.annotations?.['dbmigrate.io/target']).toBe('secret:app-db-app');
    // Other key names (a Secret that is not CloudNativePG's).
    const custom = withDb({
      connectionSecretRef: { name: 'rds', keys: { host: 'endpoint', user: 'username' } },
    });
    expect(envOf(custom).find((e) => e.name === 'PGHOST')?.valueFrom?.secretKeyRef).toEqual({
      name: 'rds',
      key: 'endpoint',
    });
  });

  it('accepts exactly one way to connect', () => {
    const base = { connectionSecretRef: { name: 'app-db-app' } };
    expect(validateSpec({ ...spec, database: base }).ok).toBe(true);
    expect(validateSpec({ ...spec, database: { ...base, host: 'pg' } })).toMatchObject({
      ok: false,
      field: 'spec.database.host',
    });
    expect(validateSpec({ ...spec, database: { host: 'pg', database: 'd', user: 'u' } })).toMatchObject({
      ok: false,
      field: 'spec.database.passwordSecretRef',
    });
  });

  it('serializes inline targets on host:port/database and Secret targets on the Secret, per namespace', () => {
    expect(targetKey(spec.database, 'apps')).toBe('pg.db:5432/shop');
    const s = DatabaseSpec.parse({ connectionSecretRef: { name: 'app-db-app' } });
    expect(targetKey(s, 'apps')).toBe('secret:apps/app-db-app');
    expect(targetKey(s, 'other')).not.toBe(targetKey(s, 'apps'));
  });

  it('mounts a CA bundle from a Secret or a ConfigMap as PGSSLROOTCERT, a client certificate as PGSSLCERT/PGSSLKEY (key 0400)', () => {
    const tls = withDb({
      ...spec.database,
      sslMode: 'verify-full',
      tls: { caSecretRef: { name: 'app-db-ca' }, clientCertSecretRef: { name: 'migrator-cert' } },
    });
    for (const step of ['migrate', 'backup'] as const) {
      const pod = buildJob(tls, run, step, config).spec!.template.spec!;
      const c = pod.containers[0]!;
      const value = (n: string) => c.env!.find((e) => e.name === n)?.value;
      expect([value('PGSSLMODE'), value('PGSSLROOTCERT'), value('PGSSLCERT'), value('PGSSLKEY')]).toEqual([
        'verify-full',
        '/etc/dbmigrate/tls/ca/ca.crt',
        '/etc/dbmigrate/tls/client/tls.crt',
        '/etc/dbmigrate/tls/client/tls.key',
      ]);
      expect(pod.volumes).toContainEqual({
        name: 'dbm-tls-ca',
        secret: { secretName: 'app-db-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 },
      });
      const client = pod.volumes!.find((v) => v.name === 'dbm-tls-client')!;
      expect(client.secret?.items).toContainEqual({ key: 'tls.key', path: 'tls.key', mode: 0o400 });
      expect(c.volumeMounts).toEqual(
        expect.arrayContaining([
          { name: 'dbm-tls-ca', mountPath: '/etc/dbmigrate/tls/ca', readOnly: true },
          { name: 'dbm-tls-client', mountPath: '/etc/dbmigrate/tls/client', readOnly: true },
        ]),
      );
      // The non-root migrator reads the 0400 key through the Pod's fsGroup.
      expect(pod.securityContext?.fsGroup).toBe(pod.securityContext?.runAsUser);
    }
    const fromConfigMap = withDb({
      ...spec.database,
      tls: { caConfigMapRef: { name: 'trust', key: 'bundle.pem' } },
    });
    const pod = buildJob(fromConfigMap, run, 'check', config).spec!.template.spec!;
    expect(pod.volumes).toContainEqual({
      name: 'dbm-tls-ca',
      configMap: { name: 'trust', items: [{ key: 'bundle.pem', path: 'ca.crt' }], defaultMode: 0o444 },
    });
    expect(pod.containers[0]!.env!.find((e) => e.name === 'PGSSLCERT')).toBeUndefined();
    expect(
      validateSpec({
        ...spec,
        database: { ...spec.database, tls: { caSecretRef: { name: 'a' }, caConfigMapRef: { name: 'b' } } },
      }).ok,
    ).toBe(false);
  });

  it('passes a schema other than public to the migrator (MIGRATIONS_SCHEMA)', () => {
    const env = envOf(withDb({ ...spec.database, schema: 'billing' }));
    expect(env.find((e) => e.name === 'MIGRATIONS_SCHEMA')?.value).toBe('billing');
    expect(envOf(dm).find((e) => e.name === 'MIGRATIONS_SCHEMA')).toBeUndefined();
    expect(validateSpec({ ...spec, database: { ...spec.database, schema: 'bad;drop' } })).toMatchObject({
      ok: false,
      field: 'spec.database.schema',
    });
  });
});

describe('buildJob: Pods that fit the cluster', () => {
  const withTemplate = (jobTemplate: Record<string, unknown>): DatabaseMigration => ({
    ...dm,
    spec: DatabaseMigrationSpec.parse({ ...spec, jobTemplate }),
  });
  const podOf = (d: DatabaseMigration, step: JobStep, defaults?: JobDefaults) =>
    buildJob(d, run, step, { ...config, ...(defaults ? { jobDefaults: defaults } : {}) }).spec!.template;

  it('keeps the mutating steps from being disrupted by Karpenter or the cluster autoscaler, unless overridden', () => {
    const ann = (step: JobStep, d = dm) => podOf(d, step).metadata?.annotations ?? {};
    for (const step of ['backup', 'migrate', 'revert', 'restore'] as const)
      expect(ann(step)).toMatchObject({
        'karpenter.sh/do-not-disrupt': 'true',
        'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false',
      });
    for (const step of ['check', 'verify'] as const)
      expect(ann(step)['karpenter.sh/do-not-disrupt']).toBeUndefined();
    const off = withTemplate({ podAnnotations: { 'karpenter.sh/do-not-disrupt': 'false' } });
    expect(ann('migrate', off)['karpenter.sh/do-not-disrupt']).toBe('false');
  });

  it('is never BestEffort: default requests, else the resource, its step, or the chart', () => {
    const res = (d: DatabaseMigration, step: JobStep, defaults?: JobDefaults) => {
      const p = podOf(d, step, defaults).spec!;
      return [p.containers[0]!.resources, p.initContainers?.[0]?.resources];
    };
    expect(res(dm, 'migrate')).toEqual([
      { requests: { cpu: '100m', memory: '256Mi' } },
      { requests: { cpu: '100m', memory: '256Mi' } },
    ]);
    const chart: JobDefaults = {
      resources: { requests: { cpu: '50m', memory: '128Mi' } },
      stepResources: { check: { requests: { cpu: '1', memory: '1Gi' } } },
    };
    expect(res(dm, 'migrate', chart)[0]).toEqual({ requests: { cpu: '50m', memory: '128Mi' } });
    expect(res(dm, 'check', chart)[0]).toEqual({ requests: { cpu: '1', memory: '1Gi' } });
    const own = withTemplate({
      resources: { requests: { cpu: '200m', memory: '300Mi' } },
      stepResources: { backup: { requests: { cpu: '2', memory: '2Gi' }, limits: { memory: '4Gi' } } },
    });
    expect(res(own, 'check', chart)[0]).toEqual({ requests: { cpu: '200m', memory: '300Mi' } });
    expect(res(own, 'backup', chart)[0]).toEqual({
      requests: { cpu: '2', memory: '2Gi' },
      limits: { memory: '4Gi' },
    });
    expect(
      validateSpec({ ...spec, jobTemplate: { stepResources: { migrate: { limits: { cpu: 'x' } } } } }),
    ).toMatchObject({
      ok: false,
      field: 'spec.jobTemplate.stepResources.migrate.limits.cpu',
    });
  });

  it('sets pod annotations and labels, affinity, tolerations, nodeSelector and priority class; the chart defaults under the resource', () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['batch'] }] }],
        },
      },
    };
    const d = withTemplate({
      podAnnotations: { 'sidecar.istio.io/inject': 'false' },
      podLabels: { team: 'shop', 'dbmigrate.io/step': 'spoofed' },
      affinity,
      priorityClassName: 'migrations',
      nodeSelector: { pool: 'batch' },
      tolerations: [{ key: 'batch', operator: 'Exists', effect: 'NoSchedule' }],
    });
    const chart: JobDefaults = {
      podAnnotations: { 'sidecar.istio.io/inject': 'true', 'example.com/cost-center': '42' },
      podLabels: { 'example.com/owner': 'platform' },
      priorityClassName: 'default-batch',
      nodeSelector: { 'kubernetes.io/arch': 'amd64' },
      tolerations: [{ key: 'spot', operator: 'Exists' }],
    };
    const t = podOf(d, 'migrate', chart);
    expect(t.metadata?.annotations).toMatchObject({
      'sidecar.istio.io/inject': 'false',
      'example.com/cost-center': '42',
      'karpenter.sh/do-not-disrupt': 'true',
    });
    expect(t.metadata?.labels).toMatchObject({
      team: 'shop',
      'example.com/owner': 'platform',
      'dbmigrate.io/step': 'migrate',
      'app.kubernetes.io/managed-by': 'database-migration-operator',
    });
    expect(t.spec?.affinity).toEqual(affinity);
    expect(t.spec?.priorityClassName).toBe('migrations');
    expect(t.spec?.nodeSelector).toEqual({ 'kubernetes.io/arch': 'amd64', pool: 'batch' });
    expect(t.spec?.tolerations).toEqual([
      { key: 'spot', operator: 'Exists' },
      { key: 'batch', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    // Only the chart's: it applies to resources that say nothing.
    expect(podOf(dm, 'check', chart).spec?.priorityClassName).toBe('default-batch');
    expect(podOf(dm, 'check').spec?.priorityClassName).toBeUndefined();
    expect(podOf(dm, 'check').spec?.affinity).toBeUndefined();
  });

  it('adds non-secret env and envFrom, the operator keeping its own variables', () => {
    const d = withTemplate({
      env: [
        { name: 'HTTPS_PROXY', value: 'http://proxy:3128' },
        { name: 'NODE_OPTIONS', valueFrom: { configMapKeyRef: { name: 'node', key: 'options' } } },
      ],
      envFrom: [{ configMapRef: { name: 'app-settings' }, prefix: 'APP_' }],
    });
    const c = podOf(d, 'migrate', {
      env: [
        { name: 'HTTPS_PROXY', value: 'http://chart:1' },
        { name: 'TZ', value: 'UTC' },
      ],
    }).spec!.containers[0]!;
    const named = (n: string) => c.env!.filter((e) => e.name === n);
    expect(named('HTTPS_PROXY')).toEqual([{ name: 'HTTPS_PROXY', value: 'http://proxy:3128' }]);
    expect(named('TZ')).toEqual([{ name: 'TZ', value: 'UTC' }]);
    expect(named('NODE_OPTIONS')[0]?.valueFrom).toEqual({
      configMapKeyRef: { name: 'node', key: 'options' },
    });
    expect(named('MIGRATIONS_TABLE')).toEqual([{ name: 'MIGRATIONS_TABLE', value: 'migrations' }]);
    // A migrator setting stays the operator's (derived from the spec and the run's plan).
    expect(
      validateSpec({ ...spec, jobTemplate: { env: [{ name: 'REVERT_STEPS', value: '99' }] } }),
    ).toMatchObject({
      ok: false,
      field: 'spec.jobTemplate.env.0.name',
    });
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'app-settings' }, prefix: 'APP_' }]);
    // Secrets only through spec.database; PG* is the connection.
    for (const env of [
      [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
      [{ name: 'PGPASSWORD', value: 'hunter2' }],
      [{ name: 'X', value: 'a', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } }],
    ])
      expect(validateSpec({ ...spec, jobTemplate: { env } }).ok).toBe(false);
    expect(validateSpec({ ...spec, jobTemplate: { envFrom: [{ secretRef: { name: 's' } }] } }).ok).toBe(
      false,
    );
  });

  it('adds extra volumes and mounts, refusing hostPath and the names and paths the Job uses', () => {
    const d = withTemplate({
      volumes: [{ name: 'corp-ca', configMap: { name: 'corp-ca-bundle' } }],
      volumeMounts: [{ name: 'corp-ca', mountPath: '/etc/corp-ca', readOnly: true }],
    });
    const p = podOf(d, 'check').spec!;
    expect(p.volumes).toContainEqual({ name: 'corp-ca', configMap: { name: 'corp-ca-bundle' } });
    expect(p.containers[0]!.volumeMounts).toContainEqual({
      name: 'corp-ca',
      mountPath: '/etc/corp-ca',
      readOnly: true,
    });
    const bad = (jobTemplate: Record<string, unknown>) => validateSpec({ ...spec, jobTemplate });
    expect(bad({ volumes: [{ name: 'h', hostPath: { path: '/' } }] }).ok).toBe(false);
    // Least privilege: nothing that carries a credential, each refusal naming the volume.
    for (const volume of [
      { name: 's', secret: { secretName: 'other-app-db' } },
      { name: 'p', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
      { name: 'n', nfs: { server: 'x', path: '/' } },
      { name: 'two', configMap: { name: 'a' }, emptyDir: {} },
      { name: 'none' },
    ])
      expect(bad({ volumes: [volume] })).toMatchObject({ ok: false, field: 'spec.jobTemplate.volumes.0' });
    for (const volume of [
      { name: 'c', configMap: { name: 'a' } },
      { name: 'e', emptyDir: { sizeLimit: '1Gi' } },
      { name: 'i', csi: { driver: 'x.example.com' } },
      { name: 'pvc', persistentVolumeClaim: { claimName: 'data' } },
      { name: 'img', image: { reference: 'registry.example.com/data:1' } },
    ])
      expect(bad({ volumes: [volume] }).ok).toBe(true);
    // The platform's jobDefaults (the chart) may still mount a Secret, e.g. a trust bundle.
    expect(
      JobDefaults.safeParse({ volumes: [{ name: 'ca', secret: { secretName: 'corp-ca' } }] }).success,
    ).toBe(true);
    expect(bad({ volumes: [{ name: 'migrations', emptyDir: {} }] })).toMatchObject({
      ok: false,
      field: 'spec.jobTemplate.volumes.0.name',
    });
    expect(bad({ volumeMounts: [{ name: 'x', mountPath: '/migrations/x' }] }).ok).toBe(false);
    expect(bad({ volumes: Array.from({ length: 17 }, (_, i) => ({ name: `v${i}`, emptyDir: {} })) }).ok).toBe(
      false,
    );
    expect(
      bad({ podAnnotations: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`a${i}`, 'x'])) }).ok,
    ).toBe(false);
  });
});
