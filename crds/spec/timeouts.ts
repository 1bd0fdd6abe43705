// spec.timeouts: PostgreSQL timeouts of the migration statements and locks.
import { z } from 'zod';

export const TimeoutsSpec = z.object({
  lockTimeoutSeconds: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(10)
    .describe('PostgreSQL lock_timeout for migration statements.'),
  statementTimeoutSeconds: z
    .number()
    .int()
    .min(0)
    .max(86400)
    .default(0)
    .describe('PostgreSQL statement_timeout (0 = none).'),
  advisoryLockWaitSeconds: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(300)
    .describe('How long to wait for the advisory lock.'),
});
