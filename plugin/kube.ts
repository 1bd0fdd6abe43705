// The API access of the plugin: kubeconfig and context chosen as kubectl chooses
// them, the namespace from -n or the context, and the few calls the commands make.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type DatabaseMigration } from '../crds/database-migration.js';
import type { Invocation } from './args.js';

export interface Kube {
  namespace: string;
  custom: k8s.CustomObjectsApi;
  core: k8s.CoreV1Api;
  batch: k8s.BatchV1Api;
}

export function connect(inv: Pick<Invocation, 'kubeconfig' | 'context' | 'namespace'>): Kube {
  const kc = new k8s.KubeConfig();
  if (inv.kubeconfig) kc.loadFromFile(inv.kubeconfig);
  else kc.loadFromDefault();
  if (inv.context) {
    if (!kc.getContextObject(inv.context))
      throw new UserError(`context "${inv.context}" is not in the kubeconfig`);
    kc.setCurrentContext(inv.context);
  }
  const namespace = inv.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return {
    namespace,
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    core: kc.makeApiClient(k8s.CoreV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
  };
}

/** An error the user can act on: printed without a stack. */
export class UserError extends Error {}

export function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's own message (e.g. "forbidden: ..."), not the client's dump of headers. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string } | undefined;
    if (parsed?.message) return parsed.message;
  } catch {
    // not JSON
  }
  return err instanceof Error ? err.message : String(err);
}

const crd = { group: GROUP, version: VERSION, plural: PLURAL };

export async function getDm(kube: Kube, name: string): Promise<DatabaseMigration> {
  try {
    return (await kube.custom.getNamespacedCustomObject({
      ...crd,
      namespace: kube.namespace,
      name,
    })) as DatabaseMigration;
  } catch (err) {
    if (httpCode(err) === 404)
      throw new UserError(`databasemigration "${name}" not found in namespace "${kube.namespace}"`);
    throw err;
  }
}

export async function listDms(kube: Kube, allNamespaces: boolean): Promise<DatabaseMigration[]> {
  const list = (
    allNamespaces
      ? await kube.custom.listClusterCustomObject(crd)
      : await kube.custom.listNamespacedCustomObject({ ...crd, namespace: kube.namespace })
  ) as { items: DatabaseMigration[] };
  return [...list.items].sort(
    (a, b) =>
      a.metadata.namespace.localeCompare(b.metadata.namespace) ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
}

/** A JSON merge patch of the resource (metadata or spec; never status). */
export async function mergePatchDm(kube: Kube, name: string, body: object): Promise<DatabaseMigration> {
  return (await kube.custom.patchNamespacedCustomObject(
    { ...crd, namespace: kube.namespace, name, body },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  )) as DatabaseMigration;
}

/** The data of a ConfigMap, or undefined when there is none of that name. */
export async function configMapData(kube: Kube, name: string): Promise<Record<string, string> | undefined> {
  try {
    return (await kube.core.readNamespacedConfigMap({ name, namespace: kube.namespace })).data ?? {};
  } catch (err) {
    if (httpCode(err) === 404) return undefined;
    throw err;
  }
}
