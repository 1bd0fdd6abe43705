// Scales the application's workloads down before a restore and back after it
// (the seed's emergency rollback: stop the application, restore, restart it).
import type { AppsV1Api, V1Scale } from '@kubernetes/client-node';

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

async function writeScale(
  apps: AppsV1Api,
  kind: string,
  name: string,
  namespace: string,
  replicas: number,
): Promise<void> {
  const current = await readScale(apps, kind, name, namespace);
  const body: V1Scale = { ...current, spec: { replicas } };
  if (kind === 'StatefulSet') await apps.replaceNamespacedStatefulSetScale({ name, namespace, body });
  else await apps.replaceNamespacedDeploymentScale({ name, namespace, body });
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
