// Lints captured migration SQL with PostgreSQL's own parser (libpg-query) into
// findings of the four categories the DatabaseMigration safety spec knows.
import { parse } from 'libpg-query';
import type { Finding } from '../../crds/job-result.js';

type Node = Record<string, unknown>;

/** Functions whose default forces a table rewrite when used in ADD COLUMN (volatile). */
export const DEFAULT_VOLATILE = new Set([
  'random',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v4',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'txid_current',
  'uuidv7',
  'uuidv4',
]);

export interface LintContext {
  /** Tables created earlier in the same plan: indexing them is harmless. */
  createdTables: Set<string>;
  isVolatile: (fn: string) => boolean;
}

export function newLintContext(volatile?: Set<string>): LintContext {
  const set = volatile ?? DEFAULT_VOLATILE;
  return { createdTables: new Set(), isVolatile: (fn) => set.has(fn.toLowerCase()) };
}

function rel(r: unknown): string {
  const x = (r ?? {}) as { relname?: string; schemaname?: string };
  return x.schemaname ? `${x.schemaname}.${x.relname ?? '?'}` : (x.relname ?? '?');
}

function funcNames(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) funcNames(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node as Node)) {
      if (k === 'FuncCall') {
        const names = ((v as Node).funcname as Array<{ String?: { sval?: string } }> | undefined) ?? [];
        const last = names[names.length - 1]?.String?.sval;
        if (last) out.push(last);
      }
      funcNames(v, out);
    }
  }
  return out;
}

const SERIAL = new Set(['serial', 'bigserial', 'smallserial', 'serial4', 'serial8', 'serial2']);

/** Findings of one migration's statements. */
export async function lintSql(migration: string, sqls: string[], ctx: LintContext): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (rule: string, category: Finding['category'], severity: Finding['severity'], message: string) =>
    findings.push({ rule, category, severity, migration, message });
  for (const sql of sqls) {
    let tree: { stmts?: Array<{ stmt?: Node }> };
    try {
      tree = (await parse(sql)) as typeof tree;
    } catch {
      continue; // not ours to judge: PostgreSQL ran it in the capture
    }
    for (const { stmt } of tree.stmts ?? []) {
      if (!stmt) continue;
      const [kind, body] = Object.entries(stmt)[0] as [string, Node];
      switch (kind) {
        case 'CreateStmt':
          ctx.createdTables.add(rel(body.relation));
          ctx.createdTables.add(((body.relation as Node)?.relname as string) ?? '');
          break;
        case 'DropStmt':
          if (body.removeType === 'OBJECT_TABLE') {
            const names = (
              (body.objects as Array<{ List?: { items?: Array<{ String?: { sval?: string } }> } }>) ?? []
            ).map((o) => (o.List?.items ?? []).map((i) => i.String?.sval).join('.'));
            add('drop-table', 'destructive', 'error', `DROP TABLE ${names.join(', ')}`);
          }
          break;
        case 'TruncateStmt':
          add(
            'truncate',
            'destructive',
            'error',
            `TRUNCATE ${((body.relations as Array<{ RangeVar?: Node }>) ?? []).map((r) => rel(r.RangeVar)).join(', ')}`,
          );
          break;
        case 'DeleteStmt':
          if (!body.whereClause)
            add(
              'delete-without-where',
              'dataLoss',
              'error',
              `DELETE FROM ${rel(body.relation)} without WHERE`,
            );
          break;
        case 'UpdateStmt':
          if (!body.whereClause)
            add('update-without-where', 'dataLoss', 'warning', `UPDATE ${rel(body.relation)} without WHERE`);
          break;
        case 'RenameStmt': {
          const t = body.renameType;
          if (t === 'OBJECT_COLUMN')
            add(
              'rename-column',
              'backwardIncompatible',
              'warning',
              `RENAME COLUMN ${rel(body.relation)}.${String(body.subname)} TO ${String(body.newname)}`,
            );
          else if (t === 'OBJECT_TABLE')
            add(
              'rename-table',
              'backwardIncompatible',
              'warning',
              `RENAME TABLE ${rel(body.relation)} TO ${String(body.newname)}`,
            );
          break;
        }
        case 'IndexStmt': {
          const table = rel(body.relation);
          const fresh =
            ctx.createdTables.has(table) ||
            ctx.createdTables.has(((body.relation as Node)?.relname as string) ?? '');
          if (!body.concurrent && !fresh) {
            add(
              'create-index-not-concurrently',
              'locking',
              'warning',
              `CREATE INDEX ${String(body.idxname ?? '')} on existing table ${table} without CONCURRENTLY blocks writes`,
            );
          }
          break;
        }
        case 'AlterTableStmt': {
          const table = rel(body.relation);
          for (const c of (body.cmds as Array<{ AlterTableCmd?: Node }>) ?? []) {
            const cmd = c.AlterTableCmd;
            if (!cmd) continue;
            const col = String(cmd.name ?? '');
            switch (cmd.subtype) {
              case 'AT_DropColumn':
                add('drop-column', 'destructive', 'error', `DROP COLUMN ${table}.${col}`);
                add('drop-column', 'dataLoss', 'error', `DROP COLUMN ${table}.${col} deletes its data`);
                add(
                  'drop-column',
                  'backwardIncompatible',
                  'warning',
                  `DROP COLUMN ${table}.${col} breaks code that still reads it`,
                );
                break;
              case 'AT_AlterColumnType':
                add(
                  'alter-column-type',
                  'dataLoss',
                  'error',
                  `ALTER COLUMN ${table}.${col} TYPE may lose data and rewrites the table`,
                );
                break;
              case 'AT_SetNotNull':
                add(
                  'set-not-null',
                  'locking',
                  'warning',
                  `SET NOT NULL on ${table}.${col} scans the table under ACCESS EXCLUSIVE`,
                );
                break;
              case 'AT_AddConstraint': {
                const con = (cmd.def as { Constraint?: Node } | undefined)?.Constraint;
                if (con?.contype === 'CONSTR_FOREIGN' && !con.skip_validation) {
                  add(
                    'add-foreign-key-validated',
                    'locking',
                    'warning',
                    `ADD FOREIGN KEY on ${table} without NOT VALID validates under lock`,
                  );
                }
                break;
              }
              case 'AT_AddColumn': {
                const def = (cmd.def as { ColumnDef?: Node } | undefined)?.ColumnDef;
                const typeNames = (
                  ((def?.typeName as Node | undefined)?.names as Array<{ String?: { sval?: string } }>) ?? []
                ).map((n) => n.String?.sval ?? '');
                const constraints = ((def?.constraints as Array<{ Constraint?: Node }>) ?? [])
                  .map((x) => x.Constraint)
                  .filter(Boolean) as Node[];
                const dflt = constraints.find((x) => x.contype === 'CONSTR_DEFAULT');
                const volatile = dflt ? funcNames(dflt.raw_expr).filter((f) => ctx.isVolatile(f)) : [];
                const serial = typeNames.some((t) => SERIAL.has(t.toLowerCase()));
                if ((volatile.length > 0 || serial) && !ctx.createdTables.has(table)) {
                  add(
                    'add-column-volatile-default',
                    'locking',
                    'warning',
                    `ADD COLUMN ${table}.${String(def?.colname ?? '')} with a volatile default (${serial ? 'serial' : volatile.join(', ')}) rewrites the table`,
                  );
                }
                break;
              }
            }
          }
          break;
        }
      }
    }
  }
  return findings;
}
