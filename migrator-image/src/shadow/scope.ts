// The schemas a release changes, as the shadow's trace saw them (every relation
// lock its statements took), checked against a scoped restore
// (spec.backup.restoreSchemas): a schema the release changes but the restore
// leaves out is a blocking dataLoss finding, since that restore could not undo it.
// The trace sees the migration's own connection: it is a lower bound.
import type { Finding } from '../../../crds/job-result.js';
import type { TracedStatement } from './trace.js';

/** Each traced schema with the first migration and lock that touched it ("MODE schema.table"). */
export function touchedSchemas(
  statements: readonly TracedStatement[],
): Map<string, { migration: string; lock: string }> {
  const out = new Map<string, { migration: string; lock: string }>();
  for (const st of statements)
    for (const lock of st.locks) {
      const rel = lock.slice(lock.indexOf(' ') + 1);
      const schema = rel.slice(0, rel.indexOf('.'));
      if (schema && !out.has(schema)) out.set(schema, { migration: st.migration, lock });
    }
  return out;
}

export function restoreScopeFindings(
  statements: readonly TracedStatement[],
  scope: readonly string[],
  migrationsSchema: string,
): Finding[] {
  if (scope.length === 0) return [];
  const allowed = new Set([...scope, migrationsSchema]);
  return [...touchedSchemas(statements)]
    .filter(([schema]) => !allowed.has(schema))
    .map(([schema, at]) => ({
      rule: 'restore-scope',
      category: 'dataLoss' as const,
      severity: 'error' as const,
      migration: at.migration,
      message: `${at.migration} changes schema ${schema} (${at.lock}), which spec.backup.restoreSchemas [${scope.join(', ')}] leaves out: a restore would not undo it`,
      hint: `Add ${schema} to spec.backup.restoreSchemas, or unset it to restore the whole database.`,
    }));
}
