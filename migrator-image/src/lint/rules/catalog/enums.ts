// The catalog's enum rows (checked in ../enums.ts).
import type { RuleSpec } from '../../rule-catalog.js';

export const enumRules = [
  {
    id: 'enum-rename-value',
    category: 'backwardIncompatible',
    severity: 'warning',
    group: 'enums',
    catches: 'ALTER TYPE ... RENAME VALUE breaks code writing or comparing the old value',
    alternative: 'add the new value, migrate rows and code, stop using the old one',
  },
  {
    id: 'enum-add-value',
    category: 'irreversible',
    severity: 'info',
    group: 'enums',
    catches: 'ALTER TYPE ... ADD VALUE cannot be undone (PostgreSQL has no DROP VALUE)',
    alternative: 'make sure down() does not need to remove it',
  },
  {
    id: 'enum-add-value-in-transaction',
    category: 'backwardIncompatible',
    severity: 'warning',
    group: 'enums',
    catches: 'ADD VALUE in a transaction fails before PostgreSQL 12 and the value is unusable until COMMIT',
    alternative: 'add the value in its own migration with transaction = false',
  },
] as const satisfies readonly RuleSpec[];
