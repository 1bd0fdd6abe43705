// Index builds, drops and rebuilds that block writes on existing tables.
import { asList, display, hasOption, relName } from '../ast.js';
import { absentIfExists, isNew } from '../context.js';
import { dropName } from '../locking.js';
import type { Stmt } from '../rule.js';

export function indexes({ kind, body, ctx, report }: Stmt): void {
  switch (kind) {
    case 'IndexStmt': {
      const table = relName(body.relation);
      if (!body.concurrent && !isNew(ctx, 'tables', table))
        report(
          'create-index-not-concurrently',
          `CREATE INDEX ${String(body.idxname ?? '')} on ${display(table)} without CONCURRENTLY blocks writes`,
        );
      break;
    }
    case 'DropStmt': {
      if (body.removeType !== 'OBJECT_INDEX' || body.concurrent) return;
      const old = asList(body.objects)
        .map(dropName)
        .filter((i) => !isNew(ctx, 'indexes', i) && !absentIfExists(ctx, 'indexes', body, i));
      if (old.length > 0)
        report(
          'drop-index-not-concurrently',
          `DROP INDEX ${old.map(display).join(', ')} without CONCURRENTLY`,
        );
      break;
    }
    case 'ReindexStmt': {
      if (hasOption(body.params, 'concurrently')) return;
      const r = body.relation ? relName(body.relation) : undefined;
      const isIndex = body.kind === 'REINDEX_OBJECT_INDEX';
      if (r && isNew(ctx, isIndex ? 'indexes' : 'tables', r)) return;
      const what = r ? display(r) : String(body.name ?? 'the database');
      report('reindex-not-concurrently', `REINDEX ${what} without CONCURRENTLY blocks writes`);
      break;
    }
    case 'RefreshMatViewStmt': {
      const v = relName(body.relation);
      if (!body.concurrent && !isNew(ctx, 'tables', v))
        report(
          'refresh-matview-not-concurrently',
          `REFRESH MATERIALIZED VIEW ${display(v)} without CONCURRENTLY blocks its readers`,
        );
      break;
    }
  }
}
