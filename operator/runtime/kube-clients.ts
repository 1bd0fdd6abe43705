// The API clients the operator uses, built once from a KubeConfig.
import * as k8s from '@kubernetes/client-node';
import { shareDispatchers } from './shared-dispatcher.js';

export interface KubeClients {
  kubeConfig: k8s.KubeConfig;
  custom: k8s.CustomObjectsApi;
  batch: k8s.BatchV1Api;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  coordination: k8s.CoordinationV1Api;
}

export function createKubeClients(kubeConfig: k8s.KubeConfig): KubeClients {
  // One keep-alive connection pool for every client and watch (the library opens one per request).
  shareDispatchers(kubeConfig);
  return {
    kubeConfig,
    custom: kubeConfig.makeApiClient(k8s.CustomObjectsApi),
    batch: kubeConfig.makeApiClient(k8s.BatchV1Api),
    core: kubeConfig.makeApiClient(k8s.CoreV1Api),
    apps: kubeConfig.makeApiClient(k8s.AppsV1Api),
    coordination: kubeConfig.makeApiClient(k8s.CoordinationV1Api),
  };
}

/** HTTP status of an ApiException (or undefined for network errors). */
export function httpStatus(err: unknown): number | undefined {
  if (
    err &&
    typeof err === 'object' &&
    'code' in err &&
    typeof (err as { code: unknown }).code === 'number'
  ) {
    return (err as { code: number }).code;
  }
  return undefined;
}

/** A one-line description of an API error without the response headers or body dump. */
export function describeApiError(err: unknown): string {
  const code = httpStatus(err);
  if (err && typeof err === 'object' && 'body' in err) {
    const body = (err as { body: unknown }).body;
    try {
      const parsed =
        typeof body === 'string'
          ? (JSON.parse(body) as { message?: string })
          : (body as { message?: string });
      if (parsed?.message) return `HTTP ${code}: ${parsed.message}`;
    } catch {
      // body was not JSON; fall through
    }
  }
  return code ? `HTTP ${code}` : err instanceof Error ? err.message : String(err);
}
