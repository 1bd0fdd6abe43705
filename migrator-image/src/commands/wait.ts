// migrator wait: holds a Helm pre-install/pre-upgrade hook until a
// DatabaseMigration is Ready. Helm waits only on hook Jobs and Pods, never on a
// custom resource, so the example chart runs this in a hook Job.
//
//   DBM_NAME               the DatabaseMigration (required)
//   DBM_NAMESPACE          its namespace (default: the Pod's namespace)
//   WAIT_TIMEOUT_SECONDS   give up after this long (default 1800)
//   WAIT_POLL_SECONDS      poll interval (default 2)
//   DBM_EXPECT_IMAGE       wait until spec.migrations.image is this image (an
//                          app's init container passes its own image, so a Pod of
//                          the new version never starts on the old version's run)
//
// In a Pod (KUBERNETES_SERVICE_HOST and a ServiceAccount token) it reads the
// API with node:https and the token (the migrator image ships without
// @kubernetes/client-node); elsewhere with client-node's loadFromDefault()
// (KUBECONFIG, ~/.kube/config). DBM_SERVICEACCOUNT_DIR overrides the token
// directory (tests).
//
// Exit 0: status.observedGeneration == metadata.generation and Ready=True.
// Exit 1: Stalled=True (or a terminal failure phase) for the current
//         generation, printing the reason and message; or the timeout.
// Exit 2: bad configuration.
// Not an operator Job step: it writes no JobResult.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { Condition, DatabaseMigration } from '../../../crds/database-migration.js';
import { log } from '../log.js';

const GROUP = 'dbmigrate.io';
const VERSION = 'v1alpha1';
const PLURAL = 'databasemigrations';
const DEFAULT_SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Phases that end a run of the current generation without success. */
export const FAILURE_PHASES: readonly string[] = ['Failed', 'Blocked', 'RolledBack', 'Restored'];

export type WaitState =
  | { kind: 'ready'; phase?: string; message: string }
  | { kind: 'failed'; phase?: string; reason: string; message: string }
  | { kind: 'waiting'; phase?: string; message: string };

type Observed = Pick<DatabaseMigration, 'metadata' | 'status'> & {
  spec?: { migrations?: { image?: string } };
};

function cond(dm: Observed, type: string): Condition | undefined {
  return dm.status?.conditions?.find((c) => c.type === type);
}

/** Pure: what one observation of the resource means for the waiter. */
export function evaluate(dm: Observed, expectImage?: string): WaitState {
  const generation = dm.metadata.generation;
  const status = dm.status;
  const phase = status?.phase;
  const live = dm.spec?.migrations?.image;
  // The run's own image (frozen when it started), not the live spec: the status describes that run.
  const ran = (status?.run?.spec as { migrations?: { image?: string } } | undefined)?.migrations?.image;
  if (expectImage && (live !== expectImage || (ran !== undefined && ran !== expectImage))) {
    // Another version's run, finished or not, says nothing about this one's schema.
    const which =
      live !== expectImage ? `spec.migrations.image is ${live ?? '(none)'}` : `the last run was of ${ran}`;
    return { kind: 'waiting', phase, message: `${which}, waiting for a run of ${expectImage}` };
  }
  if (status?.observedGeneration === undefined || status.observedGeneration !== generation) {
    return {
      kind: 'waiting',
      phase,
      message: `the operator has not observed generation ${generation} yet`,
    };
  }
  // A condition stamped with an older generation describes an older run.
  const current = (c: Condition | undefined) =>
    c !== undefined && (c.observedGeneration === undefined || c.observedGeneration === generation);
  const ready = cond(dm, 'Ready');
  const stalled = cond(dm, 'Stalled');
  if (current(stalled) && stalled!.status === 'True') {
    return { kind: 'failed', phase, reason: stalled!.reason, message: stalled!.message };
  }
  if (phase && FAILURE_PHASES.includes(phase)) {
    const message =
      status.lastError?.message ?? (current(ready) ? ready!.message : undefined) ?? `phase ${phase}`;
    return { kind: 'failed', phase, reason: stalled?.reason || phase, message };
  }
  if (current(ready) && ready!.status === 'True') {
    return { kind: 'ready', phase, message: ready!.message };
  }
  const reconciling = cond(dm, 'Reconciling');
  return {
    kind: 'waiting',
    phase,
    message: (current(reconciling) ? reconciling?.message : undefined) || ready?.message || 'in progress',
  };
}

/** Pure: a key that changes whenever a progress line is worth printing. */
export function progressKey(dm: Observed | undefined): string {
  if (!dm) return 'absent';
  const conditions = (dm.status?.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message]);
  return JSON.stringify([
    dm.metadata.generation,
    dm.status?.observedGeneration,
    dm.status?.phase,
    conditions,
  ]);
}

export interface WaitOptions {
  name: string;
  namespace: string;
  /** The ServiceAccount directory (token, ca.crt, namespace). */
  saDir: string;
  timeoutSeconds: number;
  pollSeconds: number;
  /** Ready only counts for a run of this image (DBM_EXPECT_IMAGE). */
  expectImage?: string;
}

export class WaitConfigError extends Error {}

export function waitOptions(env: NodeJS.ProcessEnv = process.env): WaitOptions {
  const name = env.DBM_NAME?.trim();
  if (!name) throw new WaitConfigError('DBM_NAME is required');
  const saDir = env.DBM_SERVICEACCOUNT_DIR?.trim() || DEFAULT_SA_DIR;
  let namespace = env.DBM_NAMESPACE?.trim();
  if (!namespace) {
    try {
      namespace = readFileSync(`${saDir}/namespace`, 'utf8').trim();
    } catch {
      throw new WaitConfigError(`DBM_NAMESPACE is not set and ${saDir}/namespace is not readable`);
    }
  }
  const num = (key: string, def: number): number => {
    const raw = env[key]?.trim();
    if (!raw) return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new WaitConfigError(`${key} must be a positive number`);
    return n;
  };
  return {
    name,
    namespace,
    saDir,
    timeoutSeconds: num('WAIT_TIMEOUT_SECONDS', 1800),
    pollSeconds: num('WAIT_POLL_SECONDS', 2),
    ...(env.DBM_EXPECT_IMAGE?.trim() ? { expectImage: env.DBM_EXPECT_IMAGE.trim() } : {}),
  };
}

/** Reads the resource; undefined when it does not exist (yet). */
type Reader = () => Promise<Observed | undefined>;

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

async function clientNodeReader(o: WaitOptions): Promise<Reader> {
  let k8s: typeof import('@kubernetes/client-node');
  try {
    k8s = await import('@kubernetes/client-node');
  } catch {
    throw new WaitConfigError(
      'not in a Pod, and @kubernetes/client-node is not installed to read KUBECONFIG',
    );
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  return async () => {
    try {
      return (await api.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: o.namespace,
        plural: PLURAL,
        name: o.name,
      })) as Observed;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 404) return undefined;
      if (typeof code === 'number') throw new HttpError(code, `HTTP ${code}: ${(err as Error).message}`);
      throw err;
    }
  };
}

/** In a Pod: the API server's Service address and a mounted token. */
function inCluster(o: WaitOptions, env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(`${o.saDir}/token`);
}

/**
 * In-cluster reader with node:https only (the migrator image ships without
 * @kubernetes/client-node): the ServiceAccount token (re-read on every call,
 * since the kubelet rotates it) and the cluster CA.
 */
function inClusterReader(o: WaitOptions, env: NodeJS.ProcessEnv): Reader {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const path = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(o.namespace)}/${PLURAL}/${encodeURIComponent(o.name)}`;
  return () =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          hostname: host,
          port,
          path,
          method: 'GET',
          ca: readFileSync(`${o.saDir}/ca.crt`),
          headers: {
            authorization: `Bearer ${readFileSync(`${o.saDir}/token`, 'utf8').trim()}`,
            accept: 'application/json',
          },
          timeout: 30_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            if (code === 404) return resolve(undefined);
            if (code < 200 || code >= 300)
              return reject(new HttpError(code, `HTTP ${code}: ${body.slice(0, 500)}`));
            try {
              resolve(JSON.parse(body) as Observed);
            } catch (e) {
              reject(e as Error);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end();
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the waiter; resolves to the process exit code. */
export async function wait(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let o: WaitOptions;
  let read: Reader;
  try {
    o = waitOptions(env);
    read = inCluster(o, env) ? inClusterReader(o, env) : await clientNodeReader(o);
  } catch (err) {
    log.error({ command: 'wait', error: (err as Error).message }, 'wait: bad configuration');
    return err instanceof WaitConfigError ? 2 : 1;
  }
  const ref = `${o.namespace}/${o.name}`;
  log.info(
    { command: 'wait', namespace: o.namespace, name: o.name, timeoutSeconds: o.timeoutSeconds },
    `waiting for DatabaseMigration ${ref} to be Ready`,
  );
  const deadline = Date.now() + o.timeoutSeconds * 1000;
  let lastKey = '';
  let lastPhase: string | undefined;
  let lastError = '';
  for (;;) {
    try {
      const dm = await read();
      lastError = '';
      const key = progressKey(dm);
      if (!dm) {
        if (key !== lastKey) log.info({ namespace: o.namespace, name: o.name }, `${ref} does not exist yet`);
        lastKey = key;
      } else {
        const state = evaluate(dm, o.expectImage);
        lastPhase = state.phase;
        if (key !== lastKey) {
          log.info(
            {
              namespace: o.namespace,
              name: o.name,
              generation: dm.metadata.generation,
              observedGeneration: dm.status?.observedGeneration,
              phase: state.phase,
              conditions: (dm.status?.conditions ?? []).map((c) => ({
                type: c.type,
                status: c.status,
                reason: c.reason,
                message: c.message,
              })),
            },
            `${ref}: ${state.phase ?? 'no phase'}: ${state.message}`,
          );
          lastKey = key;
        }
        if (state.kind === 'ready') {
          log.info({ namespace: o.namespace, name: o.name, phase: state.phase }, `${ref} is Ready`);
          return 0;
        }
        if (state.kind === 'failed') {
          log.error(
            {
              namespace: o.namespace,
              name: o.name,
              phase: state.phase,
              reason: state.reason,
              message: state.message,
            },
            `${ref} failed: ${state.reason}: ${state.message}`,
          );
          return 1;
        }
      }
    } catch (err) {
      const code = err instanceof HttpError ? err.code : undefined;
      if (code === 401 || code === 403) {
        log.error(
          { namespace: o.namespace, name: o.name, code },
          `cannot read ${ref}: ${(err as Error).message}`,
        );
        return 1;
      }
      const msg = (err as Error).message;
      if (msg !== lastError)
        log.warn({ namespace: o.namespace, name: o.name, error: msg }, `reading ${ref} failed; retrying`);
      lastError = msg;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      log.error(
        { namespace: o.namespace, name: o.name, phase: lastPhase, timeoutSeconds: o.timeoutSeconds },
        `timed out after ${o.timeoutSeconds}s waiting for ${ref} to be Ready (last phase: ${lastPhase ?? 'none'})`,
      );
      return 1;
    }
    await sleep(Math.min(o.pollSeconds * 1000, left));
  }
}
