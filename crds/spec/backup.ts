// spec.backup: the verified pg_dump taken before migrating.
import { z } from 'zod';
import { cel, dnsName } from './common.js';

// A size in bytes as a Kubernetes quantity ("10Gi", "500M", "0"): whole numbers, binary or
// decimal suffixes; checked here so a typo names the field instead of failing in the Job.
export const BYTES = /^(\d+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const UNIT: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** Bytes of a quantity BYTES accepts ("10Gi" -> 10737418240). */
export function quantityBytes(q: string): number {
  const m = BYTES.exec(q);
  if (!m) throw new Error(`${q} is not a size quantity (e.g. 10Gi, 500M, 0)`);
  // Exabytes do not fit a double exactly: capped, as good as no cap.
  return Math.min(Number(m[1]) * (m[2] ? UNIT[m[2]]! : 1), Number.MAX_SAFE_INTEGER);
}

export const BackupProofSpec = z
  .object({
    maxSize: z
      .string()
      .regex(BYTES, 'is not a size quantity (e.g. 10Gi, 500M, 0)')
      .default('10Gi')
      .describe(
        "Largest database (pg_database_size) whose backup is proven by a test restore into a private server in the backup Job (it needs that much room in its /tmp). Above it only the archive's table of contents is read, and the run goes on with a BackupUnproven condition. 0: no cap.",
      ),
  })
  .describe('The proof that the backup restores.');

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
      .describe(
        "Prove the archive before migrating: restore it, as the target role, into a private PostgreSQL server in the backup Job (never on the target) and compare every table (row count, checksum) with the dump's snapshot. An archive that does not restore fails the run.",
      ),
    proof: BackupProofSpec.prefault({}),
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
