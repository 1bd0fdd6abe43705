// Constraints added to existing tables in a way that scans or builds under a
// write-blocking lock, and partition attach/detach.
import { asNode, constraints as constraintNodes, display, relName, strings } from '../ast.js';
import { isNew } from '../context.js';
import { alterCmds, type Stmt } from '../rule.js';

export function constraints({ kind, body, ctx, report }: Stmt): void {
  if (kind === 'AlterDomainStmt') {
    const con = asNode(asNode(body.def)?.Constraint);
    const domain = strings(body.typeName).join('.');
    const qualified = domain.includes('.') ? domain : `public.${domain}`;
    if (body.subtype === 'C' && con && !con.skip_validation && !isNew(ctx, 'types', qualified))
      report(
        'alter-domain-add-constraint',
        `ALTER DOMAIN ${domain} ADD CONSTRAINT checks every column using it`,
      );
    return;
  }
  if (kind !== 'AlterTableStmt' || body.objtype !== 'OBJECT_TABLE') return;
  const table = relName(body.relation);
  if (isNew(ctx, 'tables', table)) return;
  const t = display(table);
  for (const cmd of alterCmds(body)) {
    switch (cmd.subtype) {
      case 'AT_AddConstraint': {
        const con = asNode(asNode(cmd.def)?.Constraint);
        if (!con) break;
        const name = con.conname ? ` ${String(con.conname)}` : '';
        const cols = strings(con.keys ?? con.fk_attrs).join(', ');
        switch (con.contype) {
          case 'CONSTR_FOREIGN':
            if (!con.skip_validation)
              report(
                'add-foreign-key-validated',
                `ADD FOREIGN KEY${name} on ${t} (${cols}) without NOT VALID validates under lock`,
              );
            break;
          case 'CONSTR_CHECK':
            if (!con.skip_validation)
              report(
                'add-check-validated',
                `ADD CHECK${name} on ${t} without NOT VALID scans ${t} under lock`,
              );
            break;
          case 'CONSTR_UNIQUE':
            if (!con.indexname)
              report(
                'add-unique-constraint',
                `ADD UNIQUE${name} on ${t} (${cols}) builds its index under lock`,
              );
            break;
          case 'CONSTR_PRIMARY':
            if (!con.indexname)
              report('add-primary-key', `ADD PRIMARY KEY on ${t} (${cols}) builds its index under lock`);
            break;
          case 'CONSTR_EXCLUSION':
            report('add-exclude-constraint', `ADD EXCLUDE${name} on ${t} builds and checks under lock`);
            break;
          case 'CONSTR_NOTNULL':
            if (!con.skip_validation)
              report('set-not-null', `ADD NOT NULL on ${t}.${cols} scans ${t} under ACCESS EXCLUSIVE`);
            break;
        }
        break;
      }
      case 'AT_AddColumn': {
        // Inline UNIQUE / PRIMARY KEY on a new column still build an index on the whole table.
        const def = asNode(asNode(cmd.def)?.ColumnDef) ?? {};
        const col = `${t}.${String(def.colname ?? '?')}`;
        for (const con of constraintNodes(def.constraints)) {
          // A REFERENCES on the new column validates every existing row against the parent under lock.
          if (con.contype === 'CONSTR_FOREIGN')
            report('add-foreign-key-validated', `ADD COLUMN ${col} REFERENCES validates under lock`);
          if (con.contype === 'CONSTR_UNIQUE')
            report('add-unique-constraint', `ADD COLUMN ${col} UNIQUE builds its index under lock`);
          if (con.contype === 'CONSTR_PRIMARY')
            report('add-primary-key', `ADD COLUMN ${col} PRIMARY KEY builds its index under lock`);
        }
        break;
      }
      case 'AT_ValidateConstraint': {
        // NOT VALID then VALIDATE in one transaction: the ADD's lock is still held during the scan.
        const contype = ctx.tx.open ? ctx.tx.notValid?.get(`${table}.${String(cmd.name)}`) : undefined;
        if (contype === 'CONSTR_FOREIGN' || contype === 'CONSTR_CHECK')
          report(
            contype === 'CONSTR_FOREIGN' ? 'add-foreign-key-validated' : 'add-check-validated',
            `VALIDATE CONSTRAINT ${String(cmd.name)} on ${t} in the transaction that added it NOT VALID: validates under the ADD's lock`,
          );
        break;
      }
      case 'AT_AttachPartition': {
        const part = relName(asNode(asNode(cmd.def)?.PartitionCmd)?.name);
        if (!isNew(ctx, 'tables', part) && !ctx.checkedTables.has(part))
          report(
            'attach-partition-without-check',
            `ATTACH PARTITION ${display(part)} to ${t} scans it: no validated CHECK matches the bound`,
          );
        break;
      }
      case 'AT_DetachPartition': {
        const pc = asNode(asNode(cmd.def)?.PartitionCmd);
        if (!pc?.concurrent)
          report(
            'detach-partition-not-concurrently',
            `DETACH PARTITION ${display(relName(pc?.name))} from ${t} takes ACCESS EXCLUSIVE on ${t}`,
          );
        break;
      }
    }
  }
}
