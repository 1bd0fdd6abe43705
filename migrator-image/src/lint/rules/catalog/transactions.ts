// The catalog's transaction rows (checked in ../transactions.ts).
import type { RuleSpec } from '../../rule-catalog.js';

export const transactionRules = [
  {
    id: 'non-transactional-in-transaction',
    category: 'locking',
    severity: 'error',
    group: 'transactions',
    catches: 'CONCURRENTLY, VACUUM, CREATE/DROP DATABASE inside a transaction block fail',
    alternative: 'run it in its own migration with transaction = false',
  },
  {
    id: 'statements-after-access-exclusive',
    category: 'locking',
    severity: 'warning',
    group: 'transactions',
    catches: 'more statements after an ACCESS EXCLUSIVE lock in one transaction keep every reader waiting',
    alternative: 'split the migration; take the ACCESS EXCLUSIVE step last and alone',
  },
  {
    id: 'lock-timeout-missing',
    category: 'locking',
    severity: 'info',
    group: 'transactions',
    catches:
      'a lock-taking statement without SET lock_timeout can queue behind a long query and block everyone',
    alternative: "SET lock_timeout = '5s' first and retry on timeout",
  },
] as const satisfies readonly RuleSpec[];
