// The catalog's tables / columns rows (checked in ../tables.ts).
import type { RuleSpec } from '../../rule-catalog.js';

export const tableRules = [
  {
    id: 'add-column-volatile-default',
    category: 'locking',
    severity: 'warning',
    group: 'tables',
    catches:
      'ADD COLUMN with a volatile (or unknown) function default rewrites the table under ACCESS EXCLUSIVE',
    alternative: 'add the column without default, SET DEFAULT, backfill in batches',
  },
  {
    id: 'add-column-not-null-no-default',
    category: 'backwardIncompatible',
    severity: 'error',
    group: 'tables',
    catches: 'ADD COLUMN NOT NULL without DEFAULT fails on a non-empty table and breaks old inserts',
    alternative: 'add it nullable or with a constant DEFAULT, backfill, then a NOT NULL check',
  },
  {
    id: 'add-column-serial',
    category: 'locking',
    severity: 'warning',
    group: 'tables',
    catches: 'ADD COLUMN serial/identity fills every row: a table rewrite under ACCESS EXCLUSIVE',
    alternative: 'add a nullable bigint, attach a sequence default, backfill in batches',
  },
  {
    id: 'add-column-generated-stored',
    category: 'locking',
    severity: 'warning',
    group: 'tables',
    catches: 'ADD COLUMN ... GENERATED ALWAYS AS (...) STORED rewrites the table',
    alternative: 'add a plain column with a trigger and backfill, or compute in a view',
  },
  {
    id: 'set-not-null',
    category: 'locking',
    severity: 'warning',
    group: 'tables',
    catches:
      'SET NOT NULL scans the table under ACCESS EXCLUSIVE unless a validated CHECK (col IS NOT NULL) exists',
    alternative:
      'ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c; then SET NOT NULL',
  },
  {
    id: 'drop-not-null',
    category: 'backwardIncompatible',
    severity: 'info',
    group: 'tables',
    catches: 'DROP NOT NULL lets NULLs in that readers may not expect',
    alternative: 'make readers NULL-safe before deploying the change',
  },
  {
    id: 'set-default-volatile',
    category: 'backwardIncompatible',
    severity: 'info',
    group: 'tables',
    catches: 'SET DEFAULT to a volatile function: existing rows keep their value, new rows differ per row',
    alternative: 'backfill existing rows explicitly if they need the new value',
  },
  {
    id: 'set-logged',
    category: 'locking',
    severity: 'warning',
    group: 'tables',
    catches: 'SET LOGGED rewrites the table into the WAL under ACCESS EXCLUSIVE',
    alternative: 'create a logged copy and swap in a maintenance window',
  },
  {
    id: 'set-unlogged',
    category: 'dataLoss',
    also: ['locking'],
    severity: 'warning',
    group: 'tables',
    catches: 'SET UNLOGGED rewrites the table; its rows are lost on crash and not replicated',
    alternative: 'keep the table logged',
  },
  {
    id: 'set-tablespace',
    category: 'locking',
    severity: 'warning',
    group: 'tables',
    catches: 'SET TABLESPACE copies the table under ACCESS EXCLUSIVE',
    alternative: 'use pg_repack or move in a maintenance window',
  },
] as const satisfies readonly RuleSpec[];
