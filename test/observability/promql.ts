// Extracts what a PromQL expression refers to, with Prometheus' own Lezer
// grammar (@prometheus-io/lezer-promql, the one the Prometheus UI uses).
import { parser } from '@prometheus-io/lezer-promql';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

export interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}
export interface PromqlRefs {
  selectors: Selector[];
  /** Labels named in by/without/on/ignoring/group_left/group_right. */
  groupingLabels: string[];
  errors: string[];
}

/** Grafana's built-in range variables, replaced by a duration so the expression parses. */
export function expandGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{__(rate_interval|interval|range)\}/g, '5m');
}

const unquote = (s: string) => {
  const q = s[0];
  if (q === '`') return s.slice(1, -1);
  return JSON.parse(q === "'" ? `"${s.slice(1, -1).replace(/"/g, '\\"')}"` : s) as string;
};

export function analyse(exprIn: string): PromqlRefs {
  const expr = expandGrafanaVariables(exprIn);
  const tree = parser.parse(expr);
  const text = (n: SyntaxNode) => expr.slice(n.from, n.to);
  const out: PromqlRefs = { selectors: [], groupingLabels: [], errors: [] };
  tree.iterate({
    enter(ref) {
      const n = ref.node;
      if (n.type.isError)
        out.errors.push(
          `syntax error at ${n.from}: ${JSON.stringify(expr.slice(Math.max(0, n.from - 20), n.to + 20))}`,
        );
      if (n.name === 'VectorSelector') {
        const id = n.getChild('Identifier');
        const matchers: Selector['matchers'] = [];
        const lm = n.getChild('LabelMatchers');
        let metric = id ? text(id) : '';
        for (let m = lm?.firstChild; m; m = m.nextSibling) {
          if (!/LabelMatcher$/.test(m.name)) continue;
          const label = m.getChild('LabelName') ?? m.getChild('QuotedLabelName');
          const op = m.getChild('MatchOp');
          const value = m.getChild('StringLiteral');
          if (!op || !value) {
            // {"metric_name"} form
            const q = m.getChild('QuotedLabelName') ?? m.getChild('StringLiteral');
            if (q && !metric) metric = unquote(text(q));
            continue;
          }
          const labelName = label
            ? label.name === 'QuotedLabelName'
              ? unquote(text(label))
              : text(label)
            : '';
          if (labelName === '__name__') metric = unquote(text(value));
          else matchers.push({ label: labelName, op: text(op), value: unquote(text(value)) });
        }
        out.selectors.push({ metric, matchers });
      }
      if (n.name === 'GroupingLabels') {
        for (let l = n.firstChild; l; l = l.nextSibling)
          if (l.name === 'LabelName') out.groupingLabels.push(text(l));
      }
    },
  });
  return out;
}
