// What the install allows a DatabaseMigration's Jobs, beyond what the schema
// checks: the service account they run as. Creating a DatabaseMigration must
// not be a way to run code under a service account its creator could not use
// otherwise, so the Pods run as the install's account (the chart's
// jobs.serviceAccountName, by default `default` with no token mounted) unless
// spec.jobTemplate.serviceAccountName names one the platform allows
// (jobs.allowedServiceAccounts).
import { validateSpec, type DatabaseMigrationSpec } from '../crds/database-migration.js';

export interface JobPolicy {
  /** The service account of every Job Pod whose resource names none. */
  jobServiceAccount?: string;
  /** Service accounts spec.jobTemplate.serviceAccountName may name (besides jobServiceAccount). */
  allowedServiceAccounts?: readonly string[];
}

export const DEFAULT_JOB_SERVICE_ACCOUNT = 'default';
export const SERVICE_ACCOUNT_FIELD = 'spec.jobTemplate.serviceAccountName';

/** The service account the Pods of `spec` run as. */
export function jobServiceAccount(spec: DatabaseMigrationSpec, policy: JobPolicy): string {
  return spec.jobTemplate.serviceAccountName ?? policy.jobServiceAccount ?? DEFAULT_JOB_SERVICE_ACCOUNT;
}

/** Why the install refuses `spec`, naming the field; undefined when it allows it. */
export function policyProblem(
  spec: DatabaseMigrationSpec,
  policy: JobPolicy,
): { field: string; message: string } | undefined {
  const wanted = spec.jobTemplate.serviceAccountName;
  if (wanted === undefined) return undefined;
  const allowed = [
    policy.jobServiceAccount ?? DEFAULT_JOB_SERVICE_ACCOUNT,
    ...(policy.allowedServiceAccounts ?? []),
  ];
  if (allowed.includes(wanted)) return undefined;
  return {
    field: SERVICE_ACCOUNT_FIELD,
    message: `service account "${wanted}" is not one the operator's install allows (${allowed.join(', ')}); ask the platform team to add it to the chart's jobs.allowedServiceAccounts, or leave the field out`,
  };
}

export type SpecVerdict =
  { ok: true; spec: DatabaseMigrationSpec } | { ok: false; field: string; message: string };

/** The schema's verdict, then the install's. */
export function validateForInstall(raw: unknown, policy: JobPolicy): SpecVerdict {
  const v = validateSpec(raw);
  if (!v.ok) return v;
  const problem = policyProblem(v.spec, policy);
  return problem ? { ok: false, ...problem } : v;
}
