// On the real node: a DatabaseMigration whose connection comes from a
// CloudNativePG-shaped Secret, with a CA bundle from a Secret, pod annotations
// and node affinity, migrates a PostgreSQL that accepts TLS only and serves a
// certificate from a test CA (made with openssl here): the check (pg_dump of the
// schema), migrate and verify Jobs all connect with verify-full. The same with a
// CA that did not sign the server certificate fails, saying so.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startTlsPostgres, type TlsPostgres } from '../migrator/tls-postgres.js';
import { apply, env, kubectl, loadEnv, root } from './env.js';

interface Dbm {
  status?: {
    phase?: string;
    target?: string;
    applied?: { name: string }[];
    lastError?: { step: string; message: string };
  };
}
const getDbm = (ns: string, name: string): Dbm =>
  JSON.parse(kubectl(['-n', ns, 'get', 'databasemigration', name, '-o', 'json'])) as Dbm;

async function waitForPhase(ns: string, name: string, phases: string[], timeoutMs = 420_000): Promise<Dbm> {
  const deadline = Date.now() + timeoutMs;
  let last: Dbm = {};
  while (Date.now() < deadline) {
    last = getDbm(ns, name);
    if (last.status?.phase && phases.includes(last.status.phase)) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(
    `${ns}/${name} did not reach ${phases.join('|')}; last status: ${JSON.stringify(last.status)}`,
  );
}

const NS = process.env.DBM_E2E_NAMESPACE ?? 'dbm-e2e';
const DATABASE = 'tls_shop';
const CERT_DATABASE = 'tls_cert_shop';
let server: TlsPostgres;
let host = '';
let node = '';

async function admin<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({
    host,
    port: server.port,
    user: server.user,
    password: server.password,
    database,
    ssl: { ca: readFileSync(server.caFile, 'utf8') },
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function resource(name: string, secret: string, caSecret: string, clientCert?: string): unknown {
  return {
    apiVersion: 'dbmigrate.io/v1alpha1',
    kind: 'DatabaseMigration',
    metadata: { name, namespace: NS },
    spec: {
      database: {
        connectionSecretRef: { name: secret },
        sslMode: 'verify-full',
        tls: {
          caSecretRef: { name: caSecret },
          ...(clientCert ? { clientCertSecretRef: { name: clientCert } } : {}),
        },
      },
      migrations: { image: env('DBM_EXAMPLE_IMAGE'), path: '/app/dist/migrations', transactionMode: 'each' },
      backup: { enabled: false },
      jobTemplate: {
        activeDeadlineSeconds: 300,
        runAsUser: 10001,
        podAnnotations: { 'example.com/e2e': 'tls' },
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] },
              ],
            },
          },
        },
      },
    },
  };
}

/** CloudNativePG's <cluster>-app Secret: these keys, type basic-auth. */
function cnpgSecret(name: string, user = server.user, dbname = DATABASE): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: NS },
    type: 'kubernetes.io/basic-auth',
    stringData: {
      username: user,
      user,
      password: user === server.user ? server.password : 'unused-with-a-client-certificate',
      dbname,
      host,
      port: String(server.port),
    },
  };
}

beforeAll(async () => {
  loadEnv();
  // This tree's CRD: the fields used below are new.
  kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    path.join(root, 'crds/generated/databasemigrations.dbmigrate.io.yaml'),
  ]);
  kubectl(['wait', '--for=condition=Established', 'crd/databasemigrations.dbmigrate.io', '--timeout=60s']);
  kubectl([
    '-n',
    NS,
    'delete',
    'databasemigrations',
    'tls-shop',
    'tls-wrong-ca',
    'tls-client-cert',
    '--ignore-not-found',
    '--wait=true',
  ]);
  node = kubectl(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}']).trim();
  // The address the Pods reach the node's PostgreSQL on: on the certificate, as an IP.
  host = env('DBM_PG_HOST');
  server = await startTlsPostgres({
    names: [host, 'localhost'],
    listen: ['127.0.0.1', host],
    clients: '0.0.0.0/0',
  });
  await admin('postgres', (c) => c.query(`CREATE DATABASE ${DATABASE}`));
  apply(cnpgSecret('app-db-app'));
  apply(cnpgSecret('app-db-app-2'));
  // A role that logs in with a client certificate only (pg_hba: cert), from a kubernetes.io/tls Secret.
  await admin('postgres', (c) => c.query(`CREATE DATABASE ${CERT_DATABASE} OWNER ${server.certUser}`));
  apply(cnpgSecret('app-db-cert', server.certUser, CERT_DATABASE));
  apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'migrator-cert', namespace: NS },
    type: 'kubernetes.io/tls',
    stringData: {
      'tls.crt': readFileSync(server.clientCertFile, 'utf8'),
      'tls.key': readFileSync(server.clientKeyFile, 'utf8'),
    },
  });
  for (const [name, file] of [
    ['pg-tls-ca', server.caFile],
    ['pg-other-ca', server.otherCaFile],
  ] as const)
    apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: NS },
      stringData: { 'ca.crt': readFileSync(file, 'utf8') },
    });
}, 1_800_000);

afterAll(() => {
  if (process.env.DBM_E2E_KEEP === '1') return;
  try {
    kubectl([
      '-n',
      NS,
      'delete',
      'databasemigrations',
      'tls-shop',
      'tls-wrong-ca',
      'tls-client-cert',
      '--ignore-not-found',
      '--wait=false',
    ]);
    kubectl([
      '-n',
      NS,
      'delete',
      'secrets',
      'app-db-app',
      'app-db-app-2',
      'app-db-cert',
      'migrator-cert',
      'pg-tls-ca',
      'pg-other-ca',
      '--ignore-not-found',
    ]);
  } catch {
    /* best effort */
  }
  server?.stop();
});

test('a CloudNativePG-shaped Secret and a CA bundle: every Job connects with verify-full and the migrations apply; a wrong CA fails clearly; a client certificate logs in', async () => {
  apply(resource('tls-shop', 'app-db-app', 'pg-tls-ca'));
  apply(resource('tls-wrong-ca', 'app-db-app-2', 'pg-other-ca'));
  apply(resource('tls-client-cert', 'app-db-cert', 'pg-tls-ca', 'migrator-cert'));

  const ok = await waitForPhase(NS, 'tls-shop', ['Succeeded', 'Failed', 'Blocked']);
  expect({ phase: ok.status?.phase, lastError: ok.status?.lastError }).toEqual({
    phase: 'Succeeded',
    lastError: undefined,
  });
  expect(ok.status?.target).toBe(`secret:${NS}/app-db-app`);
  expect(ok.status?.applied?.map((a) => a.name)).toEqual([
    'CreateCatalog1709000000000',
    'AddProductAttributes1709123456789',
    'SeedProductCategories1709123456790',
    'SeedStarterProducts1709200000000',
  ]);
  await admin(DATABASE, async (c) => {
    const cats = await c.query<{ name: string }>('SELECT name FROM categories ORDER BY name');
    expect(cats.rows.map((r) => r.name)).toEqual(['Clothing', 'Electronics']);
  });
  // The Jobs carried the platform settings, and ran (the server refuses plain text).
  const jobs = JSON.parse(
    kubectl(['-n', NS, 'get', 'jobs', '-l', 'dbmigrate.io/name=tls-shop', '-o', 'json']),
  ) as {
    items: {
      metadata: { labels: Record<string, string> };
      spec: {
        template: { metadata: { annotations?: Record<string, string> }; spec: { affinity?: unknown } };
      };
      status: { succeeded?: number };
    }[];
  };
  const byStep = new Map(jobs.items.map((j) => [j.metadata.labels['dbmigrate.io/step'], j]));
  expect([...byStep.keys()]).toEqual(expect.arrayContaining(['check', 'migrate']));
  for (const j of jobs.items) {
    expect(j.status.succeeded).toBe(1);
    expect(j.spec.template.metadata.annotations?.['example.com/e2e']).toBe('tls');
    expect(j.spec.template.spec.affinity).toBeDefined();
  }
  expect(byStep.get('migrate')?.spec.template.metadata.annotations?.['karpenter.sh/do-not-disrupt']).toBe(
    'true',
  );

  const bad = await waitForPhase(NS, 'tls-wrong-ca', ['Succeeded', 'Failed', 'Blocked']);
  expect(bad.status?.phase).toBe('Failed');
  expect(bad.status?.lastError?.message).toMatch(
    /TLS \(sslmode=verify-full\): the server certificate does not verify against the CA bundle \/etc\/dbmigrate\/tls\/ca\/ca\.crt/,
  );

  // The client key reaches libpq (pg_dump in the check) and node-postgres from the mounted Secret as the non-root migrator.
  const cert = await waitForPhase(NS, 'tls-client-cert', ['Succeeded', 'Failed', 'Blocked']);
  expect({ phase: cert.status?.phase, lastError: cert.status?.lastError }).toEqual({
    phase: 'Succeeded',
    lastError: undefined,
  });
  await admin(CERT_DATABASE, async (c) => {
    const owner = await c.query<{ o: string }>(
      `SELECT tableowner AS o FROM pg_tables WHERE tablename = 'categories'`,
    );
    expect(owner.rows).toEqual([{ o: server.certUser }]);
  });
});
