// The operator process: configuration, logger and metrics registry are created
// here once and passed down; nothing else holds global state.
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { loadConfig } from './config.js';
import { Controller } from './controller.js';
import { startHttpServer } from './runtime/http-server.js';
import { createKubeClients } from './runtime/kube-clients.js';
import { MetricsAuth, kubeReviewer } from './runtime/metrics-auth.js';
import { LeaderElector } from './runtime/leader-election.js';
import { createLogger } from './runtime/logger.js';
import { createMetrics } from './metrics.js';
import { operatorVersion } from './version.js';

async function main(): Promise<void> {
  const bootLogger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    bootLogger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'invalid configuration');
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel });
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: operatorVersion() });
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  const clients = createKubeClients(kubeConfig);
  const controller = new Controller({ clients, config, logger, metrics });

  let elector: LeaderElector | undefined;
  // kube-rbac-proxy's check, in process: TokenReview, then SubjectAccessReview on /metrics.
  const metricsAuth = config.metricsAuth
    ? new MetricsAuth({ reviewer: kubeReviewer(kubeConfig) })
    : undefined;
  const server = await startHttpServer({
    host: config.httpHost,
    port: config.httpPort,
    registry,
    live: () => true,
    ready: () => controller.ready(),
    logger,
    ...(metricsAuth ? { authorize: (h: string | undefined) => metricsAuth.check(h) } : {}),
  });
  logger.info(
    {
      port: server.port,
      identity: config.identity,
      namespaces: config.watchNamespaces,
      metricsAuth: config.metricsAuth,
    },
    'operator starting',
  );

  await controller.start();
  logger.info('caches synced');

  if (config.leaderElection) {
    elector = new LeaderElector({
      coordinationApi: clients.coordination,
      namespace: config.leaseNamespace,
      name: config.leaseName,
      identity: config.identity,
      logger,
      onStartedLeading: () => {
        metrics.setLeader(true);
        logger.info('became leader; starting workers');
        controller.startWorkers();
      },
      onStoppedLeading: () => {
        metrics.setLeader(false);
        // As controller-runtime does: a replica that lost the lease exits, so it
        // can never act alongside the new leader.
        logger.error('lost leadership; exiting');
        process.exit(1);
      },
    });
    elector.start();
  } else {
    metrics.setLeader(true);
    controller.startWorkers();
  }

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await controller.stop();
    if (elector) await elector.stop();
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(
    JSON.stringify({
      level: 60,
      msg: 'operator crashed',
      err: err instanceof Error ? err.message : String(err),
    }),
  );
  process.exit(1);
});
