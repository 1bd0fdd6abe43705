// spec.check.seedTables: lookup tables whose rows the check copies into its
// schema-only shadow (no rehearsal), so a data migration reading a seeded row
// can be checked. Kept apart from safety.ts, which only imports it.
import { z } from 'zod';

/** At most this many tables. */
export const SEED_TABLES_MAX = 50;
/** At most this many bytes of them (pg_total_relation_size, summed): a table that would pass it is not copied. */
export const SEED_MAX_BYTES = 64 * 1024 ** 2;

// An unquoted identifier, optionally schema-qualified: folded to lower case as SQL does.
const TABLE = /^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

export const SeedTables = z
  .array(
    z
      .string()
      .regex(
        TABLE,
        'spec.check.seedTables: each entry must be a table name, optionally schema-qualified (schema.table), of letters, digits, _ and $ (unquoted, as SQL folds it)',
      ),
  )
  .max(SEED_TABLES_MAX, `spec.check.seedTables: at most ${SEED_TABLES_MAX} tables`)
  .default([])
  .describe(
    `Tables (schema.table, or table in the migrations' schema) whose rows the check copies into its private server when it runs on the schema alone (the database above spec.check.rehearsal.maxSize, or the rehearsal off), so that a data migration reading a lookup row can be checked. Read with pg_dump --data-only from one snapshot; at most ${SEED_TABLES_MAX} tables and ${SEED_MAX_BYTES / 1024 ** 2} MiB in all (a table that would pass that is not copied and a finding says so). A table that does not exist is a finding, not a failure.`,
  );
