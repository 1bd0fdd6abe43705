// spec.backup: the verified pg_dump taken before migrating.
import { z } from 'zod';
import { cel, dnsName } from './common.js';

export const BackupSpec = z
  .object({
    enabled: z.boolean().default(true).describe('Take a verified pg_dump before migrating.'),
    pvcName: dnsName
      .optional()
      .describe('PersistentVolumeClaim the backups are written to. Required when enabled.'),
    format: z
      .enum(['custom', 'directory'])
      .default('custom')
      .describe('pg_dump format; directory dumps in parallel.'),
    compression: z
      .enum(['lz4', 'zstd', 'gzip', 'none'])
      .default('lz4')
      .describe(
        "pg_dump -Z. lz4 (default) dumps about 6x faster than gzip (pg_dump's own default) for a larger archive; zstd is as small as gzip, about 2x faster.",
      ),
    parallelJobs: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe('pg_dump/pg_restore -j (directory format dumps in parallel).'),
    retention: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(5)
      .describe('How many backups of this target to keep on the volume.'),
    verify: z
      .boolean()
      .default(true)
      .describe('Verify the archive (pg_restore --list, checksum) before migrating.'),
    restoreSchemas: z
      .array(
        z
          .string()
          .min(1)
          .max(63)
          .regex(/^[^,]+$/, 'a schema name, no comma'),
      )
      .min(1)
      .max(50)
      .optional()
      .describe(
        'A scoped restore: put back only these schemas (and the migrations schema); every other schema keeps the writes made since the backup. The check adds a blocking dataLoss finding when it traces the release changing a schema outside them. Unset: the whole database.',
      ),
  })
  .meta({
    'x-kubernetes-validations': [
      cel(
        '!self.enabled || has(self.pvcName)',
        'backup.pvcName is required when backup.enabled is true',
        '.pvcName',
      ),
    ],
  })
  .describe('The backup taken before the migration.');
