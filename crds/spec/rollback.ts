// spec.rollback: revert instead of migrate.
import { z } from 'zod';
import { cel } from './common.js';

export const RollbackSpec = z
  .object({
    steps: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        'Revert the last N applied migrations, counted once per run: a revert Job started again after it vanished counts what this run already reverted (its history rows), never N more.',
      ),
    toMigration: z.string().min(1).optional().describe('Revert every migration applied after this one.'),
    migrations: z
      .array(z.string().min(1).max(255))
      .min(1)
      .max(500)
      .optional()
      .describe('Revert exactly these migrations, newest first (each must be applied, or already reverted).'),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        '(has(self.steps) ? 1 : 0) + (has(self.toMigration) ? 1 : 0) + (has(self.migrations) ? 1 : 0) == 1',
        'set exactly one of rollback.steps, rollback.toMigration and rollback.migrations',
      ),
    ],
  })
  .describe('Set to revert instead of migrate: this run undoes migrations.');
