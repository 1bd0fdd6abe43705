// Hostile input at the operator's door: generated DatabaseMigration specs (wrong
// types, huge and negative numbers, bad DNS names, missing fields, unicode,
// injection-like strings, huge strings, unknown fields, bad enum values,
// contradictory options). Every spec is either refused by the API server with the
// field named, or accepted and then either valid or stalled by the operator with
// the field named. The bulk goes through a server-side dry-run create (the real
// CRD schema and CEL rules); a sample of the accepted ones is created for real
// and reconciled by the real operator process, which must stay up and keep
// reconciling. The same file scans everything the operator wrote for the
// database password.
import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GROUP, PLURAL, VERSION } from '../../crds/database-migration.js';
import { validateForInstall } from '../../operator/job-policy.js';
import type { JobStep } from '../../crds/job-result.js';
import {
  backupResult,
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  ensureCrd,
  finishJobPod,
  getResource,
  helmTemplate,
  kubectl,
  jobsOf,
  migrateResult,
  operatorIdentity,
  planResult,
  startOperator,
  uniqueName,
  waitFor,
  waitForPhase,
  type RunningOperator,
} from '../integration/harness.js';
import { recordReliability, writeReliabilityDoc } from './reliability-report.js';
import { collectOperatorOutput, createPasswordSecret, findTokens, passwordToken } from './secret-scan.js';

const c = clients();
const SPECS = 1000;
const RECONCILED_SAMPLE = 50;
// Fixed, so a failure reproduces; DBM_FC_SEED explores other corners.
const SEED = Number(process.env.DBM_FC_SEED ?? 1_604_2025);

// ---- the generator -------------------------------------------------------

const DELETE = '<<delete>>';
interface Mutation {
  path: string[];
  value: unknown;
}
interface HostileCase {
  mutations: Mutation[];
  /** Paths that are not in the schema: the API server prunes them. */
  unknown: string[][];
}

const injection = fc.constantFrom(
  "'; DROP TABLE users; --",
  '$(touch /tmp/pwned)',
  '`id`',
  'a\nb: c',
  'host name',
  '../../etc/passwd',
  '${PGPASSWORD}',
  'postgres://u:p@h:5432/db?sslmode=disable',
  '\u0000',
  '\u202eevil',
  'ＨＯＳＴ',
  '🐘',
  '--help',
  '"quoted"',
  '<script>alert(1)</script>',
  'a'.repeat(254),
  'x'.repeat(70_000),
  '',
  ' ',
  'UPPER',
  'a..b',
  '-a',
  'a-',
  '.a',
  '0',
  'null',
  'true',
);
const hostileString = fc.oneof(
  injection,
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ minLength: 250, maxLength: 400 }),
  fc.stringMatching(/^[a-z0-9.-]{1,12}$/),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(-1, 0, 65536, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, 0.5, 3601),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const wrongType = fc.oneof(
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  hostileNumber,
  hostileString,
);
const anyHostile = fc.oneof(wrongType, fc.constant(DELETE));
const enumLike = (valid: string[]) =>
  fc.oneof(
    fc.constantFrom(...valid.map((v) => v.toUpperCase()), ...valid.map((v) => ` ${v}`), 'yes', 'auto'),
    hostileString,
  );
const str = fc.oneof({ weight: 3, arbitrary: hostileString }, anyHostile);
const num = fc.oneof({ weight: 3, arbitrary: hostileNumber }, anyHostile);
const enumOf = (valid: string[]) => fc.oneof({ weight: 3, arbitrary: enumLike(valid) }, anyHostile);

const FIELDS: [string, fc.Arbitrary<unknown>][] = [
  ['spec', wrongType],
  ['spec.database', anyHostile],
  ['spec.database.host', str],
  ['spec.database.port', num],
  ['spec.database.database', str],
  ['spec.database.user', str],
  ['spec.database.sslMode', enumOf(['disable', 'require', 'verify-full'])],
  ['spec.database.passwordSecretRef', anyHostile],
  ['spec.database.passwordSecretRef.name', str],
  ['spec.database.passwordSecretRef.key', str],
  ['spec.migrations', anyHostile],
  ['spec.migrations.image', str],
  ['spec.migrations.path', str],
  ['spec.migrations.transactionMode', enumOf(['all', 'each', 'none'])],
  ['spec.migrations.tableName', str],
  ['spec.migrations.configMapRef.name', str],
  ['spec.backup', anyHostile],
  ['spec.backup.enabled', wrongType],
  ['spec.backup.pvcName', str],
  ['spec.backup.format', enumOf(['custom', 'directory'])],
  ['spec.backup.parallelJobs', num],
  ['spec.backup.retention', num],
  [
    'spec.safety.block',
    fc.oneof(fc.array(enumLike(['destructive', 'dataLoss']), { maxLength: 12 }), anyHostile),
  ],
  ['spec.safety.approval', str],
  ['spec.onFailure', enumOf(['none', 'revert', 'restore'])],
  [
    'spec.restoreWorkloads',
    fc.oneof(
      fc.array(fc.record({ kind: enumLike(['Deployment', 'StatefulSet']), name: hostileString }), {
        maxLength: 25,
      }),
      anyHostile,
    ),
  ],
  ['spec.rollback.steps', num],
  ['spec.rollback.toMigration', str],
  ['spec.timeouts.lockTimeoutSeconds', num],
  ['spec.timeouts.statementTimeoutSeconds', num],
  ['spec.timeouts.advisoryLockWaitSeconds', num],
  ['spec.verification.queries', fc.oneof(fc.array(hostileString, { maxLength: 25 }), anyHostile)],
  ['spec.jobTemplate.resources.requests.cpu', str],
  ['spec.jobTemplate.resources.limits.memory', str],
  ['spec.jobTemplate.serviceAccountName', str],
  ['spec.jobTemplate.imagePullSecrets', fc.oneof(fc.array(fc.record({ name: hostileString })), anyHostile)],
  ['spec.jobTemplate.activeDeadlineSeconds', num],
  ['spec.jobTemplate.backoffLimit', num],
  ['spec.jobTemplate.runAsUser', num],
  ['metadata.name', hostileString],
];

/** Options that are each valid but contradict one another (or leave a required choice open). */
const CONTRADICTIONS: Mutation[][] = [
  [
    { path: ['spec', 'onFailure'], value: 'restore' },
    { path: ['spec', 'backup', 'enabled'], value: false },
  ],
  [{ path: ['spec', 'migrations', 'configMapRef'], value: { name: 'compiled-migrations' } }],
  [{ path: ['spec', 'migrations', 'image'], value: DELETE }],
  [{ path: ['spec', 'rollback'], value: { steps: 2, toMigration: 'AddProductAttributes1709123456789' } }],
  [{ path: ['spec', 'rollback'], value: {} }],
  [{ path: ['spec', 'backup', 'pvcName'], value: DELETE }],
  [
    { path: ['spec', 'backup'], value: { enabled: false, format: 'directory', parallelJobs: 4 } },
    { path: ['spec', 'onFailure'], value: 'restore' },
  ],
];

const UNKNOWN_PARENTS = [['spec'], ['spec', 'database'], ['spec', 'migrations'], ['spec', 'backup']];
const unknownField = fc
  .record({
    parent: fc.constantFrom(...UNKNOWN_PARENTS),
    key: fc.oneof(
      fc.constantFrom('password', 'passwordPlain', 'sudo', '__proto__x', 'Host', 'ポート'),
      fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,15}$/),
    ),
    value: wrongType,
  })
  .filter(({ parent, key }) => !knownKey(parent, key));

function knownKey(parent: string[], key: string): boolean {
  const known: Record<string, string[]> = {
    spec: ['database', 'migrations', 'backup', 'safety', 'onFailure', 'restoreWorkloads', 'rollback'],
    'spec.database': ['host', 'port', 'database', 'user', 'sslMode', 'passwordSecretRef'],
    'spec.migrations': ['image', 'path', 'configMapRef', 'transactionMode', 'tableName'],
    'spec.backup': ['enabled', 'pvcName', 'format', 'parallelJobs', 'retention', 'verify'],
  };
  const extra = ['timeouts', 'verification', 'jobTemplate'];
  return [...(known[parent.join('.')] ?? []), ...(parent.length === 1 ? extra : [])].includes(key);
}

const hostileCase: fc.Arbitrary<HostileCase> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .uniqueArray(fc.integer({ min: 0, max: FIELDS.length - 1 }), { minLength: 1, maxLength: 3 })
      .chain((ix) =>
        fc.tuple(...ix.map((i) => FIELDS[i]![1].map((value) => ({ path: FIELDS[i]![0].split('.'), value })))),
      )
      .map((mutations) => ({ mutations, unknown: [] })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...CONTRADICTIONS).map((mutations) => ({ mutations, unknown: [] })),
  },
  {
    weight: 2,
    arbitrary: fc.array(unknownField, { minLength: 1, maxLength: 3 }).map((fields) => ({
      mutations: fields.map((f) => ({ path: [...f.parent, f.key], value: f.value })),
      unknown: fields.map((f) => [...f.parent, f.key]),
    })),
  },
);

// ---- applying and judging a case -------------------------------------------

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function applyMutations(body: Json, mutations: Mutation[]): Json {
  const out = structuredClone(body);
  for (const { path, value } of mutations) {
    let node: Json = out;
    for (const key of path.slice(0, -1)) {
      if (!isObject(node[key])) node[key] = {};
      node = node[key] as Json;
    }
    const last = path[path.length - 1] as string;
    if (value === DELETE) delete node[last];
    else node[last] = value;
  }
  return out;
}

function getPath(obj: unknown, path: string[]): unknown {
  let node = obj;
  for (const key of path) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** Field paths a message names (`spec.a.b[0].c` becomes spec.a.b.0.c). */
export function namedFields(message: string): string[] {
  return [...message.matchAll(/\b(?:spec|metadata)(?:\.[A-Za-z0-9_]+|\[\d+\])*/g)].map((m) =>
    m[0].replace(/\[(\d+)\]/g, '.$1'),
  );
}

/**
 * Whether `field` names a mutated path: the path itself, a field inside it
 * (a wrong value deep in a replaced object), or an object holding it (a rule
 * over the object, such as "set exactly one of …"). Bare `spec` counts only
 * where the whole spec was replaced.
 */
function names(field: string, mutations: Mutation[]): boolean {
  const f = field.split('.');
  return mutations.some(({ path }) => {
    if (f.length < 2 && path.length >= 2) return false;
    const n = Math.min(f.length, path.length);
    return f.slice(0, n).join('.') === path.slice(0, n).join('.');
  });
}

interface ApiError {
  code?: number;
  body?: unknown;
  message?: string;
}
function apiMessage(err: unknown): string {
  const e = err as ApiError;
  try {
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }) : e.body;
    if (isObject(body) && typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: fall back to the exception's own message
  }
  return String(e.message ?? err);
}

type Outcome = 'refused' | 'stalls' | 'valid';
interface Judged {
  outcome: Outcome;
  body: Json;
  hostile: HostileCase;
  /** For `stalls`: the field the operator must name. */
  field?: string;
}

// ---- the suite -------------------------------------------------------------

const system = uniqueName('hostile-sys');
const ns = uniqueName('hostile');
const token = passwordToken();
let operator: RunningOperator | undefined;
const judged: Judged[] = [];
const tally: Record<Outcome, number> = { refused: 0, stalls: 0, valid: 0 };
let counter = 0;

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, system);
  await createNamespace(c, ns);
  await createPasswordSecret(c, ns, token);
  const identity = await operatorIdentity(c, system, system);
  operator = await startOperator(identity, ns, `op-${ns.slice(-6)}`);
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(c, ns);
  await deleteNamespace(c, system);
  // Whichever fault file ends last writes the table from every file's rows.
  writeReliabilityDoc();
});

const nameOf = (j: Judged) => (j.body.metadata as { name: string }).name;

function bodyFor(hostile: HostileCase): Json {
  counter++;
  const base = baseResource(`h-${counter}`, ns, `hostile_${counter}`);
  return applyMutations(base, hostile.mutations);
}

describe('generated hostile DatabaseMigration specs', () => {
  it(`${SPECS} specs: refused with the field named, or accepted and valid, or stalled with the field named`, async () => {
    await fc.assert(
      fc.asyncProperty(hostileCase, async (hostile) => {
        const body = bodyFor(hostile);
        let created: Json;
        try {
          created = (await c.custom.createNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: ns,
            plural: PLURAL,
            body,
            dryRun: 'All',
          })) as Json;
        } catch (err) {
          const code = (err as ApiError).code;
          const message = apiMessage(err);
          // Refused: a client error (never a 5xx) that names a field the case broke.
          const named = namedFields(message).some((f) => names(f, hostile.mutations));
          expect({ clientError: code === 400 || code === 422, named, code, message }).toEqual(
            expect.objectContaining({ clientError: true, named: true }),
          );
          tally.refused++;
          return;
        }
        // Unknown fields are pruned before anything is stored.
        for (const path of hostile.unknown)
          expect({ path, value: getPath(created, path) }).toEqual({ path, value: undefined });
        // The operator runs with the install's defaults (Pods as `default`, no other service account allowed).
        const v = validateForInstall(created.spec, {});
        if (v.ok) {
          tally.valid++;
          judged.push({ outcome: 'valid', body, hostile });
          return;
        }
        // Accepted by the API server, refused by the operator's own validation: it must blame a broken field.
        expect({ field: v.field, message: v.message, named: names(v.field, hostile.mutations) }).toEqual(
          expect.objectContaining({ named: true }),
        );
        tally.stalls++;
        judged.push({ outcome: 'stalls', body, hostile, field: v.field });
      }),
      { numRuns: SPECS, seed: SEED, endOnFailure: false },
    );
    expect(tally.refused + tally.stalls + tally.valid).toBe(SPECS);
    // The generator is hostile enough to reach every outcome.
    expect(tally.refused).toBeGreaterThan(0);
    expect(tally.stalls).toBeGreaterThan(0);
    expect(tally.valid).toBeGreaterThan(0);
  });

  it(`a sample of ${RECONCILED_SAMPLE} accepted specs, reconciled by the real operator: stalled with the field named, or running`, async () => {
    const stalls = judged.filter((j) => j.outcome === 'stalls');
    const valid = judged.filter((j) => j.outcome === 'valid');
    // Every spec the operator must stall (they are few: the CRD refuses most), then valid ones up to the sample size.
    const sample = [...stalls, ...valid]
      // A generated name may repeat an earlier one; each resource here is its own.
      .filter((j, i, all) => all.findIndex((o) => nameOf(o) === nameOf(j)) === i)
      .slice(0, RECONCILED_SAMPLE);
    for (const j of sample) await createResource(c, j.body);
    expect(sample.length).toBe(RECONCILED_SAMPLE);

    const results: string[] = [];
    for (const j of sample) {
      const name = nameOf(j);
      const dm = await waitFor(
        `${ns}/${name} to settle`,
        async () => {
          const r = await getResource(c, ns, name);
          const stalled = r.status?.conditions?.find((x) => x.type === 'Stalled' && x.status === 'True');
          if (stalled) return r;
          if (j.outcome === 'valid' && ['Checking', 'Queued', 'BackingUp'].includes(r.status?.phase ?? ''))
            return r;
          return undefined;
        },
        60_000,
      );
      const stalled = dm.status?.conditions?.find((x) => x.type === 'Stalled' && x.status === 'True');
      const owned = (await jobsOf(c, ns)).filter((x) =>
        x.metadata?.ownerReferences?.some((o) => o.uid === dm.metadata.uid),
      );
      if (j.outcome === 'stalls') {
        expect({ name, reason: stalled?.reason, message: stalled?.message }).toEqual({
          name,
          reason: 'InvalidSpec',
          message: expect.stringContaining(`Invalid ${j.field}:`),
        });
        expect({ name, jobs: owned.length }).toEqual({ name, jobs: 0 });
        results.push('InvalidSpec');
      } else if (stalled) {
        // The operator took the spec but the API server refused the Job: stalled, with the field named.
        expect({ name, reason: stalled.reason }).toEqual({ name, reason: 'JobRefused' });
        expect(namedFields(stalled.message).length).toBeGreaterThan(0);
        results.push(`JobRefused`);
      } else {
        const db = (dm.spec as { database: { host: string; database: string } }).database;
        if (dm.status?.phase === 'Queued') {
          results.push('Queued');
        } else {
          // The status names the step before its Job exists (intent before action): wait for the Job.
          const job = await waitFor(`the first Job of ${name}`, async () =>
            (await jobsOf(c, ns)).find((x) =>
              x.metadata?.ownerReferences?.some((o) => o.uid === dm.metadata.uid),
            ),
          );
          // The hostile strings reach the Job as env values, verbatim: nothing interprets them.
          // The first Job is the check: its capture init container holds the connection.
          const pod = job.spec?.template.spec;
          const env =
            (pod?.initContainers?.find((x) => x.name === 'capture') ?? pod?.containers[0])?.env ?? [];
          expect(env).toContainEqual({ name: 'PGHOST', value: db.host });
          expect(env).toContainEqual({ name: 'PGDATABASE', value: db.database });
          results.push('running');
        }
      }
    }
    const counts = results.reduce<Record<string, number>>((m, r) => ({ ...m, [r]: (m[r] ?? 0) + 1 }), {});

    // The operator is up and still reconciles: a valid resource runs to Succeeded.
    expect(operator?.process.exitCode).toBeNull();
    expect(operator?.process.signalCode).toBeNull();
    await createResource(c, baseResource('still-alive', ns, 'alive_db'));
    for (const [step, res] of [
      ['check', planResult()],
      ['backup', backupResult()],
      ['migrate', migrateResult()],
    ] as const) {
      const job = await waitFor(`the ${step} Job of still-alive`, async () =>
        (await jobsOf(c, ns, step as JobStep)).find(
          (x) => x.metadata?.labels?.['dbmigrate.io/name'] === 'still-alive',
        ),
      );
      await finishJobPod(c, job, res);
    }
    await waitForPhase(c, ns, 'still-alive', 'Succeeded', 90_000);
    expect(operator?.logs()).not.toContain('operator crashed');

    recordReliability({
      fault: 'generated hostile specs (fast-check)',
      run: `seed ${SEED}`,
      injected: SPECS,
      outcome: `${tally.refused} refused by the API server (field named), ${tally.stalls} stalled by the operator (field named), ${tally.valid} valid`,
      detail: `${sample.length} accepted reconciled by the real operator: ${Object.entries(counts)
        .map(([k, n]) => `${n} ${k}`)
        .join(
          ', ',
        )}; fields only the operator refuses: ${[...new Set(stalls.map((j) => j.field))].join(', ')}; operator never exited; a valid resource then ran to Succeeded`,
    });
  });

  it('the password is nowhere the operator writes', async () => {
    const sources = await collectOperatorOutput(c, [ns], operator ? [operator] : []);
    // The scan finds the token where it truly is (the Secret), so a miss elsewhere means absence.
    const secret = await c.core.readNamespacedSecret({ name: 'db-credentials', namespace: ns });
    expect(findTokens([{ what: 'the Secret', text: JSON.stringify(secret) }], [token])).toHaveLength(1);
    const hits = findTokens(sources, [token]);
    recordReliability({
      fault: 'password scan (hostile specs)',
      run: 'scan',
      injected: sources.length,
      outcome: `${hits.length} found`,
      detail: `searched: ${sources.map((s) => s.what).join('; ')}`,
    });
    expect(hits).toEqual([]);
  });
});

// ---- least privilege at the door (issue 21) -----------------------------------

describe('a DatabaseMigration cannot mount what the operator does not put there', () => {
  const hostileVolumes: [string, Json][] = [
    ['a Secret', { name: 'other', secret: { secretName: 'db-credentials' } }],
    [
      'a service-account token',
      { name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 't' } }] } },
    ],
    ['the node', { name: 'node', hostPath: { path: '/' } }],
  ];
  const dryRunCreate = (body: Json, fieldValidation?: 'Strict') =>
    c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      body,
      dryRun: 'All',
      ...(fieldValidation ? { fieldValidation } : {}),
    });
  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return { code: (err as ApiError).code, message: apiMessage(err) };
    }
    return { code: 201, message: 'accepted' };
  };

  it.each(hostileVolumes)(
    'a volume of %s is refused by the API server, naming the field',
    async (_, volume) => {
      const body = applyMutations(baseResource(uniqueName('vol'), ns, 'vol_db'), [
        { path: ['spec', 'jobTemplate', 'volumes'], value: [volume] },
      ]);
      // kubectl's default (Strict): the unknown field itself is named.
      const strict = await refusal(dryRunCreate(body, 'Strict'));
      expect(strict.code === 400 || strict.code === 422).toBe(true);
      expect(strict.message).toContain('spec.jobTemplate.volumes[0]');
      // Any other client: the field is pruned, and the volume left without a source is refused by the CEL rule.
      const lax = await refusal(dryRunCreate(body));
      expect(lax.code).toBe(422);
      expect(lax.message).toContain('spec.jobTemplate.volumes[0]');
      expect(lax.message).toContain('exactly one of configMap, emptyDir, csi, persistentVolumeClaim, image');
    },
  );

  it("the chart's ValidatingAdmissionPolicy refuses a service account the install does not allow, naming the field", async () => {
    const release = uniqueName('hostile-vap');
    const objs = helmTemplate(release, system, [
      `watchNamespaces={${ns}}`,
      'jobs.allowedServiceAccounts={irsa-migrations}',
    ]).filter((o) => (o.kind ?? '').startsWith('ValidatingAdmissionPolicy'));
    expect(objs.map((o) => o.kind).sort()).toEqual([
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
    const dir = join(process.cwd(), '.tmp', 'hostile-specs');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${release}.json`);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
    const applied = kubectl(['apply', '--server-side', '-f', file]);
    expect({ status: applied.status, stderr: applied.stderr }).toEqual({ status: 0, stderr: '' });
    try {
      const body = (serviceAccountName: string) =>
        applyMutations(baseResource(uniqueName('sa'), ns, 'sa_db'), [
          { path: ['spec', 'jobTemplate', 'serviceAccountName'], value: serviceAccountName },
        ]);
      // The policy takes effect once the API server has compiled it.
      const refused = await waitFor('the admission policy to refuse', async () => {
        const r = await refusal(dryRunCreate(body('admin')));
        return r.code !== 201 ? r : undefined;
      });
      expect(refused.code).toBe(403);
      expect(refused.message).toContain('spec.jobTemplate.serviceAccountName');
      expect(refused.message).toContain('"admin"');
      expect((await refusal(dryRunCreate(body('irsa-migrations')))).code).toBe(201);
      expect((await refusal(dryRunCreate(body('default')))).code).toBe(201);
    } finally {
      kubectl(['delete', '--ignore-not-found', '-f', file]);
    }
  });
});
