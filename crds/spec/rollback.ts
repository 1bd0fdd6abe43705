// spec.rollback: revert instead of migrate.
import { z } from 'zod';
import { cel } from './common.js';

export const RollbackSpec = z
  .object({
    steps: z.number().int().min(1).max(1000).optional().describe('Revert the last N applied migrations.'),
    toMigration: z.string().min(1).optional().describe('Revert every migration applied after this one.'),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        'has(self.steps) != has(self.toMigration)',
        'set exactly one of rollback.steps and rollback.toMigration',
      ),
    ],
  })
  .describe('Set to revert instead of migrate: this run undoes migrations.');
