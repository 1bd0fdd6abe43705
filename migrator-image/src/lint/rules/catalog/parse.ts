// The catalog's parse row: SQL the parser rejects (reported by ../../index.ts).
import type { RuleSpec } from '../../rule-catalog.js';

export const parseRules = [
  {
    id: 'unparseable-sql',
    category: 'destructive',
    severity: 'warning',
    group: 'parse',
    catches: 'SQL the PostgreSQL 18 parser rejects cannot be checked, so nothing about it is known',
    alternative: 'fix the SQL, or review it by hand and ignore the rule',
  },
] as const satisfies readonly RuleSpec[];
