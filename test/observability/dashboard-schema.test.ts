// The Grafana dashboard against Grafana's published schema types
// (@grafana/schema: the dashboard JSON model and each panel plugin's options
// and field config). The JSON is embedded as an object literal in a virtual
// TypeScript module and type-checked with `satisfies`, so a missing required
// field, a wrong type, an unknown enum value or an unknown (misspelt) property
// is a compile error. Then structural checks the types cannot express.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { defaultDashboard } from '@grafana/schema';
import { DASHBOARD_FILE, REPO_ROOT } from '../chart/tools.js';

type Target = { refId: string; expr: string; datasource?: { type: string; uid: string } };
type GridPos = { x: number; y: number; w: number; h: number };
type Panel = {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: unknown;
  options?: unknown;
};
type Dashboard = {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
};

const text = readFileSync(DASHBOARD_FILE, 'utf8');
const dashboard = JSON.parse(text) as Dashboard;

const PANEL_MODULE = '@grafana/schema/dist/esm/raw/composable';
/** Panel plugin id -> its generated types (module, Options, FieldConfig or none). */
const PANEL_TYPES: Record<string, { module: string; fieldConfig: boolean }> = {
  timeseries: {
    module: `${PANEL_MODULE}/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen`,
    fieldConfig: true,
  },
  stat: { module: `${PANEL_MODULE}/stat/panelcfg/x/StatPanelCfg_types.gen`, fieldConfig: false },
  table: { module: `${PANEL_MODULE}/table/panelcfg/x/TablePanelCfg_types.gen`, fieldConfig: true },
  bargauge: { module: `${PANEL_MODULE}/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen`, fieldConfig: false },
  'state-timeline': {
    module: `${PANEL_MODULE}/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen`,
    fieldConfig: true,
  },
};

/** The virtual module: the dashboard and each panel as literals checked against the schema types. */
function virtualModule(): string {
  const flat = dashboard.panels.filter((p) => p.type !== 'row');
  const used = [...new Set(flat.map((p) => p.type))];
  const lines: string[] = [
    `import type { Dashboard, Panel, RowPanel, FieldConfig, FieldConfigSource } from '@grafana/schema';`,
    ...used.map(
      (t, i) => `import type * as P${i} from '${PANEL_TYPES[t]?.module ?? `unknown-panel-type/${t}`}';`,
    ),
    // JSON has no enums: accept an enum's literal values (string enums as their strings).
    `type Json<T> = T extends string ? \`\${T}\` : T extends number | boolean | null | undefined ? T : T extends ReadonlyArray<infer U> ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;`,
    `type PanelOf<O, C> = Omit<Json<Panel>, 'options' | 'fieldConfig'> & {`,
    `  options: Json<O>;`,
    `  fieldConfig: { defaults: Omit<Json<FieldConfig>, 'custom'> & { custom?: Json<C> }; overrides: Json<FieldConfigSource['overrides']> };`,
    `};`,
    `export const dashboard = ${text.trim()} satisfies Json<Dashboard>;`,
    `export const rows = [${dashboard.panels
      .filter((p) => p.type === 'row')
      .map((p) => JSON.stringify(p))
      .join(',')}] satisfies Json<RowPanel>[];`,
  ];
  flat.forEach((p, n) => {
    const i = used.indexOf(p.type);
    const fc = PANEL_TYPES[p.type]?.fieldConfig ? `P${i}.FieldConfig` : 'Record<string, never>';
    lines.push(`export const panel${n} = ${JSON.stringify(p)} satisfies PanelOf<P${i}.Options, ${fc}>;`);
  });
  return lines.join('\n');
}

function typeErrors(source: string): string[] {
  const fileName = join(REPO_ROOT, 'test', 'observability', '__dashboard_schema_check__.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    name === fileName ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const line = where ? source.split('\n')[where.line]?.slice(0, 80) : '';
    return `${where ? `${where.line + 1}:${where.character + 1} ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}${line ? `\n  in: ${line}` : ''}`;
  });
}

describe('Grafana dashboard', () => {
  it('type-checks against @grafana/schema (dashboard model and panel plugin options)', () => {
    expect(typeErrors(virtualModule())).toEqual([]);
  }, 120_000);

  it('the check has teeth: a misspelt property, a wrong enum value and a missing field fail', () => {
    const broken = JSON.parse(text) as Dashboard & Record<string, unknown>;
    const [ts0, ts1] = broken.panels.filter((p) => p.type === 'timeseries') as (Panel & {
      options: Record<string, Record<string, unknown>>;
    })[];
    ts0!.options.legend!.placment = 'bottom';
    ts1!.options.tooltip!.mode = 'sideways';
    const stat = broken.panels.find((p) => p.type === 'stat') as Panel & { options: Record<string, unknown> };
    delete stat.options.reduceOptions;
    broken.graphTooltip = 7;
    // check the broken copy: the dashboard literal and the panel literals
    const original = dashboard.panels;
    dashboard.panels = broken.panels;
    let errors: string[];
    try {
      errors = typeErrors(virtualModule().replace(text.trim(), JSON.stringify(broken)));
    } finally {
      dashboard.panels = original;
    }
    const all = errors.join('\n');
    expect(all).toMatch(/placment/);
    expect(all).toMatch(/sideways/);
    expect(all).toMatch(/reduceOptions/);
    expect(all).toMatch(/graphTooltip|DashboardCursorSync|7/);
  }, 120_000);

  it('uses a current schemaVersion, a stable uid and a datasource variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(defaultDashboard.schemaVersion!);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
  });

  it('has unique panel ids and refIds, known panel types, every query on the datasource variable', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      if (p.type === 'row') continue;
      expect(Object.keys(PANEL_TYPES)).toContain(p.type);
      expect(p.title).toBeTruthy();
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(refIds.length).toBeGreaterThan(0);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const t of p.targets ?? []) {
        expect(t.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(t.expr.trim()).not.toBe('');
      }
    }
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const boxes = dashboard.panels.map((p) => ({ title: p.title, ...p.gridPos }));
    for (const b of boxes) {
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.w).toBeLessThanOrEqual(24);
      expect(b.h).toBeGreaterThan(0);
    }
    const overlaps: string[] = [];
    boxes.forEach((a, i) =>
      boxes.slice(i + 1).forEach((b) => {
        if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
          overlaps.push(`${a.title} / ${b.title}`);
      }),
    );
    expect(overlaps).toEqual([]);
  });

  it('shows what the issue asks for', () => {
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const needle of [
      'dbmigration_runs_total', // runs and failures over time
      'histogram_quantile(0.5, sum by (le, step)', // step duration p50
      'histogram_quantile(0.95, sum by (le, step)', // step duration p95
      'dbmigration_backup_size_bytes',
      'dbmigration_pending_migrations',
      'dbmigration_phase', // current phase per resource
      'up{', // operator health
      'dbmigration_leader',
      'dbmigration_reconcile_errors_total',
      'dbmigration_workqueue_depth',
    ]) {
      expect(exprs).toContain(needle);
    }
  });
});
