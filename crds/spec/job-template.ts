// spec.jobTemplate: overrides for the Jobs the operator creates.
import { z } from 'zod';
import { podFitFields } from '../pod-template.js';
import { dnsName } from './common.js';

// Kubernetes resource quantities ("500m", "1Gi", "2"). The CRD schema keeps them
// plain strings; the operator checks them so a typo stalls the resource with the
// field named instead of failing later at Job creation.
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
const quantityMap = z.record(
  z.string(),
  z.string().refine((q) => QUANTITY.test(q), { message: 'is not a Kubernetes quantity (e.g. 500m, 256Mi)' }),
);

const stepDeadline = z
  .number()
  .int()
  .min(1)
  .max(604800)
  .optional()
  .describe("Deadline in seconds of this step's Job.");

export const JobTemplateSpec = z
  .object({
    resources: z
      .object({
        requests: quantityMap.optional().describe('Resource requests, e.g. cpu: 100m, memory: 256Mi.'),
        limits: quantityMap.optional().describe('Resource limits, e.g. memory: 1Gi.'),
      })
      .optional()
      .describe('Container resources of the Job Pods.'),
    nodeSelector: z.record(z.string(), z.string()).optional().describe('nodeSelector of the Job Pods.'),
    tolerations: z
      .array(
        z.object({
          key: z.string().optional().describe('The taint key the toleration applies to (empty: all).'),
          operator: z.enum(['Exists', 'Equal']).optional().describe('Exists or Equal (default Equal).'),
          value: z.string().optional().describe('The taint value, with operator Equal.'),
          effect: z.string().optional().describe('NoSchedule, PreferNoSchedule or NoExecute (empty: all).'),
          tolerationSeconds: z.number().int().optional().describe('How long a NoExecute taint is tolerated.'),
        }),
      )
      .optional()
      .describe('Tolerations of the Job Pods.'),
    serviceAccountName: dnsName
      .optional()
      .describe('A ServiceAccount of the namespace (a DNS subdomain name).'),
    imagePullSecrets: z
      .array(z.object({ name: dnsName.describe('Name of a Secret of the namespace.') }))
      .optional()
      .describe('Secrets to pull the migrator and migrations images with.'),
    activeDeadlineSeconds: z
      .number()
      .int()
      .min(1)
      .max(604800)
      .default(3600)
      .describe('Deadline of each Job (of a step without its own stepDeadlineSeconds).'),
    stepDeadlineSeconds: z
      .object({
        check: stepDeadline,
        backup: stepDeadline,
        migrate: stepDeadline,
        verify: stepDeadline,
        revert: stepDeadline,
        restore: stepDeadline,
      })
      .optional()
      .describe(
        "Deadline per step (check, backup, migrate, verify, revert, restore), frozen with the run; a step without one uses activeDeadlineSeconds. It is the Job's activeDeadlineSeconds, and the migrator stops itself (cancels its statements, writes its result) about 10 s before it, while the Pod still exists.",
      ),
    backoffLimit: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(0)
      .describe('Pod retries of each Job. Migrations are not retried blindly by default.'),
    runAsUser: z
      .number()
      .int()
      .min(1)
      .max(2147483647)
      .optional()
      .describe('UID the Job containers run as (non-root).'),
    ...podFitFields,
  })
  .describe('Overrides for the Jobs the operator creates.');
