// The catalog's index rows (checked in ../indexes.ts).
import type { RuleSpec } from '../../rule-catalog.js';

export const indexRules = [
  {
    id: 'create-index-not-concurrently',
    category: 'locking',
    severity: 'warning',
    group: 'indexes',
    catches: 'CREATE INDEX on an existing table blocks writes for the whole build',
    alternative: 'CREATE INDEX CONCURRENTLY outside a transaction',
  },
  {
    id: 'drop-index-not-concurrently',
    category: 'locking',
    severity: 'warning',
    group: 'indexes',
    catches: 'DROP INDEX takes ACCESS EXCLUSIVE on its table',
    alternative: 'DROP INDEX CONCURRENTLY outside a transaction',
  },
  {
    id: 'reindex-not-concurrently',
    category: 'locking',
    severity: 'warning',
    group: 'indexes',
    catches: 'REINDEX blocks writes (and reads through the index) while it rebuilds',
    alternative: 'REINDEX ... CONCURRENTLY outside a transaction',
  },
  {
    id: 'refresh-matview-not-concurrently',
    category: 'locking',
    severity: 'warning',
    group: 'indexes',
    catches: 'REFRESH MATERIALIZED VIEW blocks every reader of the view',
    alternative: 'REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index)',
  },
] as const satisfies readonly RuleSpec[];
