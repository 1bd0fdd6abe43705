// spec.restoreWorkloads: the workloads stopped while writes could be lost.
import { z } from 'zod';
import { dnsName } from './common.js';

export const WorkloadRef = z.object({
  kind: z.enum(['Deployment', 'StatefulSet']).describe('Deployment or StatefulSet.'),
  name: dnsName.describe('Name of the workload in the namespace.'),
});
