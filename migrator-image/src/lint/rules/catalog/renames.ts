// The catalog's rename rows (checked in ../renames.ts).
import type { RuleSpec } from '../../rule-catalog.js';

export const renameRules = [
  {
    id: 'rename-table',
    category: 'backwardIncompatible',
    severity: 'warning',
    group: 'renames',
    catches: 'RENAME TABLE/VIEW breaks running code that uses the old name',
    alternative: 'create a view with the old name, or expand/contract',
  },
  {
    id: 'rename-column',
    category: 'backwardIncompatible',
    severity: 'warning',
    group: 'renames',
    catches: 'RENAME COLUMN breaks running code that uses the old name',
    alternative: 'add the new column, dual-write, backfill, drop the old one later',
  },
  {
    id: 'rename-schema',
    category: 'backwardIncompatible',
    severity: 'warning',
    group: 'renames',
    catches: 'RENAME SCHEMA breaks every qualified reference',
    alternative: 'create the new schema and move objects gradually',
  },
  {
    id: 'rename-constraint',
    category: 'backwardIncompatible',
    severity: 'info',
    group: 'renames',
    catches: 'RENAME CONSTRAINT breaks code matching constraint names in errors',
    alternative: 'update error handling first',
  },
  {
    id: 'rename-type',
    category: 'backwardIncompatible',
    severity: 'warning',
    group: 'renames',
    catches: 'RENAME TYPE breaks casts and functions using the old name',
    alternative: 'create a new type and migrate columns',
  },
] as const satisfies readonly RuleSpec[];
