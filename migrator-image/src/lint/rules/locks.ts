// Maintenance commands and explicit locks that block a live table, triggers,
// and sequence resets.
import { asList, asNode, display, hasOption, relName } from '../ast.js';
import { isNew } from '../context.js';
import { alterCmds, type Stmt } from '../rule.js';

const DISABLE = new Set(['AT_DisableTrig', 'AT_DisableTrigAll', 'AT_DisableTrigUser']);

export function locks({ kind, body, ctx, report }: Stmt): void {
  const existing = (t: string) => !isNew(ctx, 'tables', t);
  switch (kind) {
    case 'VacuumStmt': {
      if (!hasOption(body.options, 'full')) return;
      const rels = asList(body.rels).map((r) => relName(asNode(r.VacuumRelation)?.relation));
      if (rels.length === 0 || rels.some(existing))
        report(
          'vacuum-full',
          `VACUUM FULL ${rels.map(display).join(', ') || '(all tables)'} rewrites under ACCESS EXCLUSIVE`,
        );
      break;
    }
    case 'ClusterStmt': {
      const r = body.relation ? relName(body.relation) : undefined;
      if (!r || existing(r))
        report('cluster', `CLUSTER ${r ? display(r) : '(all tables)'} rewrites under ACCESS EXCLUSIVE`);
      break;
    }
    case 'LockStmt': {
      const rels = asList(body.relations).map((r) => relName(r.RangeVar));
      if (rels.some(existing))
        report('lock-table', `LOCK TABLE ${rels.map(display).join(', ')} blocks other sessions`);
      break;
    }
    case 'AlterTableStmt': {
      const t = relName(body.relation);
      if (!existing(t)) return;
      for (const cmd of alterCmds(body))
        if (DISABLE.has(String(cmd.subtype)))
          report(
            'disable-trigger',
            `DISABLE TRIGGER ${String(cmd.name ?? (cmd.subtype === 'AT_DisableTrigAll' ? 'ALL' : 'USER'))} on ${display(t)}`,
          );
      break;
    }
    case 'CreateTrigStmt': {
      const t = relName(body.relation);
      if (existing(t))
        report(
          'create-trigger-existing-table',
          `CREATE TRIGGER ${String(body.trigname ?? '')} on existing ${display(t)} blocks writes while created`,
        );
      break;
    }
    case 'AlterSeqStmt': {
      const seq = relName(body.sequence);
      if (hasOption(body.options, 'restart') && !isNew(ctx, 'sequences', seq))
        report('sequence-restart', `ALTER SEQUENCE ${display(seq)} RESTART may reuse existing ids`);
      break;
    }
  }
}
