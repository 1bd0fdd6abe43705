// The library's per-request dispatcher, shared: requests with the same TLS
// options get the same undici Agent (one keep-alive pool); changed credentials
// get a new one. Also pins the private library method the wrapper relies on.
import { describe, expect, it } from '@jest/globals';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { shareDispatchers } from './shared-dispatcher.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeConfig(caData: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: b64(caData), skipTLSVerify: false }],
    users: [{ name: 'u', token: 'not-a-real-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function dispatcherOf(kc: KubeConfig): Promise<unknown> {
  const ctx = new RequestContext('https://127.0.0.1:6443/api/v1/pods', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getDispatcher();
}

describe('shareDispatchers', () => {
  it('the library alone builds a new dispatcher for every request (what this works around)', async () => {
    const kc = kubeConfig('ca-1');
    const a = await dispatcherOf(kc);
    expect(a).toBeDefined();
    expect(await dispatcherOf(kc)).not.toBe(a);
  });

  it('gives every request with the same credentials the same dispatcher', async () => {
    const kc = shareDispatchers(kubeConfig('ca-1'));
    const a = await dispatcherOf(kc);
    expect(a).toBeDefined();
    expect(await dispatcherOf(kc)).toBe(a);
    // Idempotent: wrapping twice changes nothing.
    expect(await dispatcherOf(shareDispatchers(kc))).toBe(a);
  });

  it('builds a new dispatcher when the credentials change, and closes the old one', async () => {
    const kc = shareDispatchers(kubeConfig('ca-1'));
    const a = (await dispatcherOf(kc)) as { closed?: boolean };
    const cluster = kc.getCurrentCluster()!;
    kc.clusters = [{ ...cluster, caData: b64('ca-2') }];
    const b = await dispatcherOf(kc);
    expect(b).toBeDefined();
    expect(b).not.toBe(a);
    expect(await dispatcherOf(kc)).toBe(b);
    // undici's Dispatcher exposes `closed` once close() was called.
    expect(a.closed).toBe(true);
  });
});
