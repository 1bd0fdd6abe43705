// Least privilege at the door (issue 21): a host carrying credentials is refused
// by the API server (the CRD's pattern), and a verification query that could write
// stalls the resource before any Job exists (the operator's own check).
import { getCondition } from '../../operator/conditions.js';
import { baseResource, createResource, jobsOf, operatorSuite, waitForPhase } from './harness.js';

const { c, ns } = operatorSuite('it-refuse', 'op-refuse');

describe('spec refusals', () => {
  it('the API server refuses a URL with a password as database.host, naming the field', async () => {
    const url = baseResource('url-host', ns, 'x');
    (url.spec as { database: Record<string, unknown> }).database.host =
      'postgres://admin:secret@db:5432/shop';
    await expect(createResource(c, url)).rejects.toMatchObject({
      body: expect.stringContaining('spec.database.host'),
    });
    for (const host of ['db.example.com', '10.0.0.12', '2001:db8::42']) {
      const ok = baseResource(`host-${host.replace(/[^a-z0-9]/g, '')}`.slice(0, 40), ns, 'ok');
      (ok.spec as { database: Record<string, unknown> }).database.host = host;
      await expect(createResource(c, ok)).resolves.toBeDefined();
    }
  });

  it('a verification query that could write stalls the resource with the query named, no Job created', async () => {
    await createResource(
      c,
      baseResource('hostile-verify', ns, 'hv', {
        verification: {
          queries: ['SELECT true', 'SELECT true; COMMIT; DELETE FROM product_variants; SELECT true'],
        },
      }),
    );
    const failed = await waitForPhase(c, ns, 'hostile-verify', 'Failed');
    const stalled = getCondition(failed.status?.conditions, 'Stalled');
    expect(stalled).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    expect(stalled?.message).toContain('spec.verification.queries.1');
    expect(stalled?.message).toContain('one statement');
    expect(
      (await jobsOf(c, ns)).filter((j) => j.metadata?.ownerReferences?.[0]?.name === 'hostile-verify'),
    ).toHaveLength(0);
  });
});
