// Jobs of old runs are deleted (their Pods with them) once a run has ended,
// keeping the last 3 runs, against the real API server, Job controller and
// garbage collector, with the chart's RBAC. Five failed attempts of one
// generation (retried with the annotation) leave the Jobs of attempts 3 to 5.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../crds/database-migration.js';
import {
  baseResource,
  createResource,
  finishJobPod,
  getResource,
  jobsOf,
  result,
  operatorSuite,
  waitFor,
} from './harness.js';

const { c, ns, operator } = operatorSuite('it-retain', 'op-retain');

const attemptsWithJobs = async () =>
  [...new Set((await jobsOf(c, ns)).map((j) => Number(j.metadata?.labels?.['dbmigrate.io/attempt'])))].sort();

it('keeps the Jobs of the last 3 runs and deletes older ones with their Pods', async () => {
  await createResource(c, baseResource('churn', ns, 'churn', { backup: { enabled: false } }));
  const podsOfAttempt: Record<number, string> = {};
  for (let attempt = 1; attempt <= 5; attempt++) {
    const check = await waitFor(`the check Job of attempt ${attempt}`, async () =>
      (await jobsOf(c, ns, 'check')).find(
        (j) => j.metadata?.labels?.['dbmigrate.io/attempt'] === String(attempt),
      ),
    );
    const pods = await waitFor('its Pod', async () => {
      const p = await c.core.listNamespacedPod({
        namespace: ns,
        labelSelector: `batch.kubernetes.io/job-name=${check.metadata!.name}`,
      });
      return p.items[0];
    });
    podsOfAttempt[attempt] = pods.metadata!.name!;
    await finishJobPod(c, check, result('check', { ok: false, error: { message: 'connection refused' } }));
    await waitFor(`attempt ${attempt} to fail`, async () => {
      const s = (await getResource(c, ns, 'churn')).status;
      return s?.attempt === attempt && s.phase === 'Failed';
    });
    if (attempt < 5)
      await c.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace: ns,
          name: 'churn',
          body: { metadata: { annotations: { 'dbmigrate.io/retry': `try-${attempt + 1}` } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
  }
  await waitFor('the Jobs of attempts 1 and 2 to be deleted', async () => {
    const attempts = await attemptsWithJobs();
    return attempts.join(',') === '3,4,5' ? attempts : undefined;
  });
  // The garbage collector removes the Pods of the deleted Jobs.
  await waitFor('the Pods of attempts 1 and 2 to be gone', async () => {
    const names = (await c.core.listNamespacedPod({ namespace: ns })).items.map((p) => p.metadata?.name);
    return (
      !names.includes(podsOfAttempt[1]) &&
      !names.includes(podsOfAttempt[2]) &&
      names.includes(podsOfAttempt[5])
    );
  });
  expect(operator().logs()).toContain('deleted the Job of an old run');
}, 300_000);
