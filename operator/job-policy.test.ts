import { describe, expect, it } from '@jest/globals';
import { DatabaseMigrationSpec } from '../crds/database-migration.js';
import { jobServiceAccount, policyProblem, validateForInstall } from './job-policy.js';
import { minimalSpec } from '../test/lib/spec.js';

const raw = (jobTemplate: Record<string, unknown> = {}) =>
  minimalSpec({ migrations: { image: 'shop:2', path: '/app/dist/migrations' }, jobTemplate });

describe('job policy: the service account of the Job Pods', () => {
  it("is the install's when the resource names none", () => {
    const spec = DatabaseMigrationSpec.parse(raw());
    expect(jobServiceAccount(spec, {})).toBe('default');
    expect(jobServiceAccount(spec, { jobServiceAccount: 'dbm-jobs' })).toBe('dbm-jobs');
    expect(policyProblem(spec, {})).toBeUndefined();
  });

  it('may be one the install allows, and no other, naming the field', () => {
    const spec = DatabaseMigrationSpec.parse(raw({ serviceAccountName: 'irsa' }));
    expect(policyProblem(spec, { allowedServiceAccounts: ['irsa'] })).toBeUndefined();
    expect(policyProblem(spec, { jobServiceAccount: 'irsa' })).toBeUndefined();
    const refused = policyProblem(spec, { jobServiceAccount: 'dbm-jobs', allowedServiceAccounts: ['other'] });
    expect(refused?.field).toBe('spec.jobTemplate.serviceAccountName');
    expect(refused?.message).toContain('"irsa"');
    expect(refused?.message).toContain('jobs.allowedServiceAccounts');
  });

  it('checks the schema first, then the install', () => {
    expect(
      validateForInstall(raw({ volumes: [{ name: 's', secret: { secretName: 'x' } }] }), {}),
    ).toMatchObject({
      ok: false,
      field: 'spec.jobTemplate.volumes.0',
    });
    expect(validateForInstall(raw({ serviceAccountName: 'admin' }), {})).toMatchObject({
      ok: false,
      field: 'spec.jobTemplate.serviceAccountName',
    });
    expect(validateForInstall(raw(), {}).ok).toBe(true);
  });
});
