// Helpers of the static chart and observability tests: the helm/kubectl
// binaries from scripts/tools.sh, rendering the chart, and parsing the output.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART_DIR = join(REPO_ROOT, 'charts', 'database-migration-operator');
export const CHART_CRD = join(CHART_DIR, 'templates', 'crds', 'databasemigrations.dbmigrate.io.yaml');
export const DASHBOARD_FILE = join(CHART_DIR, 'dashboards', 'database-migrations.json');
export const RULES_FILE = join(CHART_DIR, 'alerts', 'rules.yaml');
export const KUBECONFIG = join(REPO_ROOT, '.local-cluster', 'kubeconfig');

let tools: { helm: string; kubectl: string } | undefined;
/** HELM and KUBECTL as exported by scripts/tools.sh (fetches them on first use). */
export function helmTools(): { helm: string; kubectl: string } {
  if (tools) return tools;
  const out = spawnSync(
    'bash',
    ['-c', 'source scripts/tools.sh >&2 && printf "%s\\n%s\\n" "$HELM" "$KUBECTL"'],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    },
  );
  if (out.status !== 0) throw new Error(`scripts/tools.sh failed (exit ${out.status}):\n${out.stderr}`);
  const [helm, kubectl] = out.stdout.trim().split('\n');
  if (!helm || !kubectl || !existsSync(helm) || !existsSync(kubectl)) {
    throw new Error(`scripts/tools.sh did not provide helm and kubectl:\n${out.stdout}\n${out.stderr}`);
  }
  tools = { helm, kubectl };
  return tools;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  input?: string,
  env: NodeJS.ProcessEnv = process.env,
): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    input,
    env,
    timeout: 180_000,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function helm(args: string[]): RunResult {
  return run(helmTools().helm, args);
}

/** `--set`-style arguments turning every optional part of the chart on. */
export const ALL_TOGGLES_ON = [
  '--set',
  'metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,grafana.dashboards.enabled=true,podDisruptionBudget.enabled=true,replicaCount=2',
];

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
};

/** `helm template` the chart and parse every document. */
export function template(args: string[] = [], release = 'dbm', namespace = 'dbm-system'): K8sObject[] {
  const r = helm(['template', release, CHART_DIR, '--namespace', namespace, ...args]);
  if (r.status !== 0) throw new Error(`helm template failed (exit ${r.status}):\n${r.stderr}`);
  return parseYamlDocs(r.stdout);
}

export function parseYamlDocs(text: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  const out: K8sObject[] = [];
  for (const d of docs) {
    if (d.errors.length)
      throw new Error(`invalid YAML in rendered output: ${d.errors.map((e) => e.message).join('; ')}`);
    const v = d.toJS() as K8sObject | null;
    if (v) out.push(v);
  }
  return out;
}

/**
 * The chart's CRD is generated from the zod schema (`npm run crds:generate`).
 * Generate it when missing, so a fresh checkout can run these tests.
 */
export function ensureChartCrd(): string {
  if (!existsSync(CHART_CRD)) {
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    try {
      execFileSync(tsx, ['crds/generate.ts'], { cwd: REPO_ROOT, stdio: 'pipe', timeout: 120_000 });
    } catch (e) {
      throw new Error(
        `${CHART_CRD} is missing and \`tsx crds/generate.ts\` failed; run \`npm run crds:generate\`:\n${String(e)}`,
      );
    }
  }
  return readFileSync(CHART_CRD, 'utf8');
}

/** Is the local control plane (test/cluster/up.sh) reachable? */
export function clusterReachable(): boolean {
  if (!existsSync(KUBECONFIG)) return false;
  try {
    const { kubectl } = helmTools();
    const r = run(kubectl, ['--kubeconfig', KUBECONFIG, '--request-timeout=5s', 'get', '--raw', '/readyz']);
    return r.status === 0 && r.stdout.trim() === 'ok';
  } catch {
    return false;
  }
}

/**
 * A test that needs the local cluster (the `static` project's global setup
 * brings it up with the CRD): without it, it fails instead of skipping.
 */
export function clusterTest(available: boolean): (name: string, fn: () => void | Promise<void>) => void {
  return (name, fn) =>
    it(name, async () => {
      if (!available)
        throw new Error(
          `no local cluster with the CRD at ${KUBECONFIG} (run via npm test or bash test/cluster/up.sh)`,
        );
      await fn();
    });
}
