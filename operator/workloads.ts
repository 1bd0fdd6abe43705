// Scales the application's workloads down before a restore and back after it
// (the seed's emergency rollback: stop the application, restore, restart it).
import type { AppsV1Api, CoreV1Api, V1Scale } from '@kubernetes/client-node';

export interface ScaledWorkload {
  kind: string;
  name: string;
  replicas: number;
}

async function readScale(apps: AppsV1Api, kind: string, name: string, namespace: string): Promise<V1Scale> {
  return kind === 'StatefulSet'
    ? apps.readNamespacedStatefulSetScale({ name, namespace })
    : apps.readNamespacedDeploymentScale({ name, namespace });
}

/** Our name in managedFields, so a wait can tell who else set the replicas. */
export const FIELD_MANAGER = 'database-migration-operator';

async function writeScale(
  apps: AppsV1Api,
  kind: string,
  name: string,
  namespace: string,
  replicas: number,
): Promise<void> {
  const current = await readScale(apps, kind, name, namespace);
  const body: V1Scale = { ...current, spec: { replicas } };
  const req = { name, namespace, body, fieldManager: FIELD_MANAGER };
  if (kind === 'StatefulSet') await apps.replaceNamespacedStatefulSetScale(req);
  else await apps.replaceNamespacedDeploymentScale(req);
}

/** Scales each workload to zero; returns the replicas each had, for scaling back. */
export async function scaleDown(
  apps: AppsV1Api,
  namespace: string,
  workloads: readonly { kind: string; name: string }[],
): Promise<ScaledWorkload[]> {
  const recorded: ScaledWorkload[] = [];
  for (const w of workloads) {
    const current = await readScale(apps, w.kind, w.name, namespace);
    recorded.push({ kind: w.kind, name: w.name, replicas: current.spec?.replicas ?? 1 });
    await writeScale(apps, w.kind, w.name, namespace, 0);
  }
  return recorded;
}

export async function scaleUp(
  apps: AppsV1Api,
  namespace: string,
  workloads: readonly ScaledWorkload[],
): Promise<void> {
  for (const w of workloads) await writeScale(apps, w.kind, w.name, namespace, w.replicas);
}

/** Reads each workload's replicas; a workload already recorded keeps its first record (never a later 0). */
export async function recordReplicas(
  apps: AppsV1Api,
  namespace: string,
  workloads: readonly { kind: string; name: string }[],
  recorded: readonly ScaledWorkload[],
): Promise<ScaledWorkload[]> {
  const out = [...recorded];
  for (const w of workloads) {
    if (out.some((r) => r.kind === w.kind && r.name === w.name)) continue;
    const current = await readScale(apps, w.kind, w.name, namespace);
    out.push({ kind: w.kind, name: w.name, replicas: current.spec?.replicas ?? 1 });
  }
  return out;
}

/** Scales each workload to zero (idempotent: the replicas were recorded before). */
export async function scaleToZero(
  apps: AppsV1Api,
  namespace: string,
  workloads: readonly { kind: string; name: string }[],
): Promise<void> {
  for (const w of workloads) {
    const current = await readScale(apps, w.kind, w.name, namespace);
    if ((current.spec?.replicas ?? 1) !== 0) await writeScale(apps, w.kind, w.name, namespace, 0);
  }
}

/** Pods of the workloads that have not yet ended (terminating ones count: they may still write). */
export async function runningPods(
  apps: AppsV1Api,
  core: CoreV1Api,
  namespace: string,
  workloads: readonly { kind: string; name: string }[],
): Promise<number> {
  let n = 0;
  for (const w of workloads) {
    const obj =
      w.kind === 'StatefulSet'
        ? await apps.readNamespacedStatefulSet({ name: w.name, namespace })
        : await apps.readNamespacedDeployment({ name: w.name, namespace });
    const labels = obj.spec?.selector?.matchLabels ?? {};
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (!selector) continue;
    const pods = await core.listNamespacedPod({ namespace, labelSelector: selector });
    n += pods.items.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed').length;
  }
  return n;
}

/**
 * Who set the replicas of workloads that are back above zero, for the message
 * of a wait that timed out: the field managers owning spec.replicas
 * (managedFields: "argocd-application-controller"), else what was seen.
 */
export async function scaledBackBy(
  apps: AppsV1Api,
  namespace: string,
  workloads: readonly { kind: string; name: string }[],
): Promise<string[]> {
  const out = new Set<string>();
  for (const w of workloads) {
    const obj =
      w.kind === 'StatefulSet'
        ? await apps.readNamespacedStatefulSet({ name: w.name, namespace })
        : await apps.readNamespacedDeployment({ name: w.name, namespace });
    const replicas = obj.spec?.replicas ?? 0;
    if (replicas === 0) continue;
    const managers = (obj.metadata?.managedFields ?? []).filter((m) => {
      const spec = (m.fieldsV1 as { 'f:spec'?: Record<string, unknown> } | undefined)?.['f:spec'];
      return m.manager && m.manager !== FIELD_MANAGER && spec && 'f:replicas' in spec;
    });
    // A write through /scale does not always leave an owner of spec.replicas: then say what was seen.
    if (managers.length === 0)
      out.add(`another controller (${w.kind}/${w.name} back at ${replicas} replica(s))`);
    for (const m of managers) out.add(`${m.manager} (${w.kind}/${w.name})`);
  }
  return [...out];
}
