// The catalog's constraint rows (checked in ../constraints.ts).
import type { RuleSpec } from '../../rule-catalog.js';

export const constraintRules = [
  {
    id: 'add-foreign-key-validated',
    category: 'locking',
    severity: 'warning',
    group: 'constraints',
    catches: 'ADD FOREIGN KEY validates every row while blocking writes on both tables',
    alternative: 'ADD ... NOT VALID, then VALIDATE CONSTRAINT in a later step',
  },
  {
    id: 'add-check-validated',
    category: 'locking',
    severity: 'warning',
    group: 'constraints',
    catches: 'ADD CHECK scans the table under ACCESS EXCLUSIVE',
    alternative: 'ADD ... NOT VALID, then VALIDATE CONSTRAINT in a later step',
  },
  {
    id: 'add-unique-constraint',
    category: 'locking',
    severity: 'warning',
    group: 'constraints',
    catches: 'ADD UNIQUE builds its index under ACCESS EXCLUSIVE',
    alternative: 'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX',
  },
  {
    id: 'add-primary-key',
    category: 'locking',
    severity: 'warning',
    group: 'constraints',
    catches: 'ADD PRIMARY KEY builds its index (and may set NOT NULL) under ACCESS EXCLUSIVE',
    alternative: 'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX',
  },
  {
    id: 'add-exclude-constraint',
    category: 'locking',
    severity: 'warning',
    group: 'constraints',
    catches: 'ADD EXCLUDE builds its index and checks every row under ACCESS EXCLUSIVE',
    alternative: 'add it in a maintenance window, or enforce in the application first',
  },
  {
    id: 'attach-partition-without-check',
    category: 'locking',
    severity: 'warning',
    group: 'constraints',
    catches: 'ATTACH PARTITION scans the partition unless a validated CHECK implies the bound',
    alternative: 'add a CHECK matching the bound NOT VALID, VALIDATE it, then ATTACH',
  },
  {
    id: 'detach-partition-not-concurrently',
    category: 'locking',
    severity: 'warning',
    group: 'constraints',
    catches: 'DETACH PARTITION takes ACCESS EXCLUSIVE on the parent',
    alternative: 'DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+)',
  },
  {
    id: 'alter-domain-add-constraint',
    category: 'locking',
    severity: 'warning',
    group: 'constraints',
    catches: 'ALTER DOMAIN ADD CONSTRAINT checks every column of the domain under lock',
    alternative: 'ADD ... NOT VALID, then VALIDATE CONSTRAINT',
  },
] as const satisfies readonly RuleSpec[];
