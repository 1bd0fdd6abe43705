import type { V1Pod } from '@kubernetes/client-node';
import { configMapHash, pinImage, resolvedDigest } from './frozen-sources.js';

const D = `sha256:${'a1'.repeat(32)}`;

describe('pinImage', () => {
  it('replaces a tag or an earlier digest, keeps a registry port', () => {
    expect(pinImage('shop:2', D)).toBe(`shop@${D}`);
    expect(pinImage('registry.example.com:5000/team/shop:1.4.0', D)).toBe(
      `registry.example.com:5000/team/shop@${D}`,
    );
    expect(pinImage('registry.example.com:5000/shop', D)).toBe(`registry.example.com:5000/shop@${D}`);
    expect(pinImage(`shop:2@sha256:${'00'.repeat(32)}`, D)).toBe(`shop@${D}`);
  });
});

describe('resolvedDigest', () => {
  const pod = (job: string, imageID: string, name = 'copy-migrations') =>
    ({
      metadata: { labels: { 'batch.kubernetes.io/job-name': job } },
      status: { initContainerStatuses: [{ name, imageID, image: 'shop:2', ready: true, restartCount: 0 }] },
    }) as V1Pod;

  it('reads the registry digest the copy container ran, from a Pod of the run only', () => {
    expect(resolvedDigest([pod('run-check', `docker.io/library/shop@${D}`)], new Set(['run-check']))).toBe(D);
    expect(resolvedDigest([pod('other-check', `docker.io/library/shop@${D}`)], new Set(['run-check']))).toBe(
      undefined,
    );
    expect(resolvedDigest([pod('run-check', `shop@${D}`, 'other')], new Set(['run-check']))).toBe(undefined);
  });

  it('a bare image ID (a local image, no registry) pins nothing', () => {
    expect(resolvedDigest([pod('run-check', D)], new Set(['run-check']))).toBe(undefined);
    expect(resolvedDigest([pod('run-check', '')], new Set(['run-check']))).toBe(undefined);
  });
});

describe('configMapHash', () => {
  it('is the content: key order does not matter, a changed value or binaryData does', () => {
    const h = configMapHash({ data: { 'a.js': '1', 'b.js': '2' } });
    expect(configMapHash({ data: { 'b.js': '2', 'a.js': '1' } })).toBe(h);
    expect(configMapHash({ data: { 'a.js': '1', 'b.js': '3' } })).not.toBe(h);
    expect(configMapHash({ data: { 'a.js': '1', 'b.js': '2' }, binaryData: { 'c.js': 'AA==' } })).not.toBe(h);
  });
});
