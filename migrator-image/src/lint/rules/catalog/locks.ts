// The catalog's locks and maintenance rows (checked in ../locks.ts).
import type { RuleSpec } from '../../rule-catalog.js';

export const lockRules = [
  {
    id: 'vacuum-full',
    category: 'locking',
    severity: 'error',
    group: 'locks',
    catches: 'VACUUM FULL rewrites the table under ACCESS EXCLUSIVE',
    alternative: 'plain VACUUM, or pg_repack',
  },
  {
    id: 'cluster',
    category: 'locking',
    severity: 'error',
    group: 'locks',
    catches: 'CLUSTER rewrites the table under ACCESS EXCLUSIVE',
    alternative: 'pg_repack, or a maintenance window',
  },
  {
    id: 'lock-table',
    category: 'locking',
    severity: 'warning',
    group: 'locks',
    catches: 'explicit LOCK TABLE blocks other sessions for the rest of the transaction',
    alternative: 'rely on the statement locks and keep the transaction short',
  },
  {
    id: 'disable-trigger',
    category: 'dataLoss',
    severity: 'warning',
    group: 'locks',
    catches: 'DISABLE TRIGGER skips triggers (ALL/USER: also FK checks) for every session',
    alternative: 'do the work without disabling triggers, or SET session_replication_role locally',
  },
  {
    id: 'create-trigger-existing-table',
    category: 'locking',
    also: ['backwardIncompatible'],
    severity: 'warning',
    group: 'locks',
    catches: 'CREATE TRIGGER on an existing table blocks writes and changes every later write',
    alternative: 'create it in its own short migration with a lock_timeout',
  },
  {
    id: 'sequence-restart',
    category: 'irreversible',
    severity: 'warning',
    group: 'locks',
    catches: 'ALTER SEQUENCE ... RESTART can hand out ids that already exist',
    alternative: 'only move a sequence forward (setval past max(id))',
  },
] as const satisfies readonly RuleSpec[];
