// One HTTP connection pool per set of credentials, instead of one per request.
//
// @kubernetes/client-node 2.0.1 (dist/config.js) builds a NEW undici Agent in
// KubeConfig.applySecurityAuthentication for every request and every watch:
// each request opens its own TCP + TLS connection (a handshake, a fresh TLS
// context holding the CA and client key), and the Agent keeps it open until
// its keep-alive ends. At start-up an operator with thousands of resources
// makes thousands of such requests in a burst: that is most of its resident
// memory (outside the JS heap) and much of its start-up time.
//
// This wraps the KubeConfig's (TypeScript-private) createDispatcher so that
// requests with the same TLS options share one Agent, i.e. one keep-alive pool.
// Credentials that change (a rotated client certificate) get a new Agent; the
// old one is closed gracefully (requests in flight, watches included, finish).
import { createHash } from 'node:crypto';
import type { AgentOptions } from 'node:https';
import type { Cluster, KubeConfig } from '@kubernetes/client-node';

/** What the library returns: an undici Dispatcher, or undefined (plain HTTP, no TLS options). */
interface Dispatcher {
  close?: () => Promise<void>;
}
type CreateDispatcher = (cluster: Cluster | null, agentOptions: AgentOptions) => Dispatcher | undefined;

const SHARED = Symbol('dbm.sharedDispatcher');

/** Makes every request of `kc` with the same TLS options reuse one connection pool. Idempotent. */
export function shareDispatchers(kc: KubeConfig): KubeConfig {
  // The method is private in the library's types; its shape is pinned by shared-dispatcher.test.ts.
  const target = kc as unknown as { createDispatcher?: CreateDispatcher; [SHARED]?: true };
  if (target[SHARED]) return kc;
  const original = target.createDispatcher;
  if (typeof original !== 'function')
    throw new Error(
      '@kubernetes/client-node: KubeConfig.createDispatcher is gone; shared-dispatcher.ts needs updating',
    );
  let current: { key: string; dispatcher: Dispatcher | undefined } | undefined;
  target.createDispatcher = (cluster, agentOptions) => {
    // The same mapping the library uses to build the Agent: equal options, equal Agent.
    const key = createHash('sha256')
      .update(JSON.stringify(kc.createDispatcherOptions(cluster, agentOptions)) ?? '')
      .digest('hex');
    if (current?.key === key) return current.dispatcher;
    const previous = current?.dispatcher;
    current = { key, dispatcher: original.call(kc, cluster, agentOptions) };
    // Graceful: requests (and watches) still running on the old pool finish first.
    void previous?.close?.().catch(() => undefined);
    return current.dispatcher;
  };
  target[SHARED] = true;
  return kc;
}
