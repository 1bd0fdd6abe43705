// The three watches of one namespace (or of all): DatabaseMigrations, and the
// Jobs and Pods the operator made (selected by the managed-by label, in the
// list as in the watch).
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION, type DatabaseMigration } from '../crds/database-migration.js';
import { MANAGED_SELECTOR } from './job-names.js';
import { createInformer, type InformerEvent, type ResilientInformer } from './runtime/informer.js';
import type { KubeClients } from './runtime/kube-clients.js';

export interface Watches {
  resources: ResilientInformer<DatabaseMigration>;
  jobs: ResilientInformer<V1Job>;
  pods: ResilientInformer<V1Pod>;
}

export interface WatchHandlers {
  resource(type: InformerEvent, dm: DatabaseMigration): void;
  job(job: V1Job): void;
  pod(pod: V1Pod): void;
}

export function createWatches(
  clients: KubeClients,
  ns: string | undefined,
  logger: Logger,
  on: WatchHandlers,
): Watches {
  const dmPath = ns
    ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`
    : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
  const resources = createInformer<DatabaseMigration>({
    kubeConfig: clients.kubeConfig,
    path: dmPath,
    list: async () =>
      (ns
        ? await clients.custom.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: ns,
            plural: PLURAL,
          })
        : await clients.custom.listClusterCustomObject({
            group: GROUP,
            version: VERSION,
            plural: PLURAL,
          })) as {
        items: DatabaseMigration[];
      },
    onEvent: (type, dm) => on.resource(type, dm),
    logger: logger.child({ informer: 'databasemigrations' }),
  });
  const jobs = createInformer<V1Job>({
    kubeConfig: clients.kubeConfig,
    path: ns ? `/apis/batch/v1/namespaces/${ns}/jobs` : '/apis/batch/v1/jobs',
    labelSelector: MANAGED_SELECTOR,
    list: (labelSelector) =>
      ns
        ? clients.batch.listNamespacedJob({ namespace: ns, labelSelector })
        : clients.batch.listJobForAllNamespaces({ labelSelector }),
    onEvent: (_type, job) => on.job(job),
    logger: logger.child({ informer: 'jobs' }),
  });
  const pods = createInformer<V1Pod>({
    kubeConfig: clients.kubeConfig,
    path: ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods',
    labelSelector: MANAGED_SELECTOR,
    list: (labelSelector) =>
      ns
        ? clients.core.listNamespacedPod({ namespace: ns, labelSelector })
        : clients.core.listPodForAllNamespaces({ labelSelector }),
    onEvent: (_type, pod) => on.pod(pod),
    logger: logger.child({ informer: 'pods' }),
  });
  return { resources, jobs, pods };
}
