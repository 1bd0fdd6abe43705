// Every rule the linter knows: one row per hazard, the single source of the
// rule table in migrator-image/README.md and of each finding's category,
// severity and safe-alternative hint.
import type { FindingCategory } from '../../../crds/job-result.js';
import { constraintRules } from './rules/catalog/constraints.js';
import { dropRules } from './rules/catalog/drops.js';
import { enumRules } from './rules/catalog/enums.js';
import { indexRules } from './rules/catalog/indexes.js';
import { lockRules } from './rules/catalog/locks.js';
import { parseRules } from './rules/catalog/parse.js';
import { renameRules } from './rules/catalog/renames.js';
import { tableRules } from './rules/catalog/tables.js';
import { transactionRules } from './rules/catalog/transactions.js';
import { typeRules } from './rules/catalog/types.js';

export type Severity = 'info' | 'warning' | 'error';

export interface RuleSpec {
  id: string;
  /** The category precision/recall is measured in; the one a finding is filed under first. */
  category: FindingCategory;
  /** Further categories the same finding is reported in (spec.safety blocks per category). */
  also?: FindingCategory[];
  severity: Severity;
  group:
    | 'tables'
    | 'types'
    | 'indexes'
    | 'constraints'
    | 'locks'
    | 'drops'
    | 'renames'
    | 'enums'
    | 'transactions'
    | 'parse';
  catches: string;
  alternative: string;
}

// The rows of each group live in rules/catalog/<group>.ts. This order is
// RULES' order (the README's rule table lists them the same way): keep it.
const rules = [
  ...tableRules,
  ...typeRules,
  ...indexRules,
  ...constraintRules,
  ...lockRules,
  ...transactionRules,
  ...dropRules,
  ...renameRules,
  ...enumRules,
  ...parseRules,
] as const satisfies readonly RuleSpec[];

export type RuleId = (typeof rules)[number]['id'];
export const RULES: readonly RuleSpec[] = rules;
export const RULE_BY_ID: ReadonlyMap<string, RuleSpec> = new Map(rules.map((r) => [r.id, r as RuleSpec]));
