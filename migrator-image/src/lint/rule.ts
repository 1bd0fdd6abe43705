// The shape every rule group shares: it looks at one parsed statement, with
// the plan context as it was before that statement, and reports hazards.
import { asList, asNode, type Node } from './ast.js';
import type { LintContext } from './context.js';
import type { RuleId } from './rule-catalog.js';

export interface Stmt {
  /** The AST node type, e.g. `AlterTableStmt`. */
  kind: string;
  body: Node;
  ctx: LintContext;
  report: (rule: RuleId, message: string) => void;
}

export type RuleGroup = (s: Stmt) => void;

/** The AlterTableCmd nodes of an ALTER TABLE. */
export function alterCmds(body: Node): Node[] {
  return asList(body.cmds)
    .map((c) => asNode(c.AlterTableCmd))
    .filter((c): c is Node => c !== undefined);
}
