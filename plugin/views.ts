// What each read command shows, as pure functions of the resource and its plan
// ConfigMap: one data object (printed as is for -o json|yaml) and its text.
import {
  blockingCategories,
  scrubTarget,
  validateSpec,
  type DatabaseMigration,
} from '../crds/database-migration.js';
import type { AppliedMigration, Finding, PlanRecord } from '../crds/job-result.js';
import { age, duration, table } from './format.js';

const ref = (dm: DatabaseMigration) => `${dm.metadata.namespace}/${dm.metadata.name}`;

function readyOf(dm: DatabaseMigration): string | undefined {
  return dm.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

function blockingCountOf(dm: DatabaseMigration): number | undefined {
  const plan = dm.status?.plan;
  return plan ? (plan.blockingCount ?? plan.blocking?.length ?? 0) : undefined;
}

export interface StatusRow {
  namespace: string;
  name: string;
  ready?: string;
  phase?: string;
  applied?: number;
  blocking?: number;
  /** The migrate step's live progress (`2/5: Name`), its final value after the step. */
  progress?: string;
  target?: string;
  reason?: string;
  message?: string;
  age?: string;
}

export function statusRows(items: readonly DatabaseMigration[], now = new Date()): StatusRow[] {
  return items.map((dm) => {
    // The condition that explains the phase: Stalled when a human is needed, else Ready.
    const conds = dm.status?.conditions ?? [];
    const why =
      conds.find((c) => c.type === 'Stalled' && c.status === 'True') ?? conds.find((c) => c.type === 'Ready');
    return {
      namespace: dm.metadata.namespace,
      name: dm.metadata.name,
      ready: readyOf(dm),
      phase: dm.status?.phase,
      applied: dm.status?.appliedCount,
      blocking: blockingCountOf(dm),
      progress: dm.status?.progress?.message,
      target: dm.status?.target && scrubTarget(dm.status.target),
      reason: why?.reason,
      message: why?.message,
      age: age(dm.metadata.creationTimestamp, now),
    };
  });
}

export function statusText(rows: readonly StatusRow[], withNamespace: boolean): string {
  if (!rows.length) return 'No DatabaseMigrations found.\n';
  const headers = [
    ...(withNamespace ? ['namespace'] : []),
    'name',
    'ready',
    'phase',
    'applied',
    'blocking',
    'progress',
    'reason',
    'age',
  ];
  return table(
    headers,
    rows.map((r) => [
      ...(withNamespace ? [r.namespace] : []),
      r.name,
      r.ready,
      r.phase,
      r.applied,
      r.blocking,
      r.progress,
      r.reason,
      r.age,
    ]),
  );
}

/** The JSON text of a ConfigMap entry, or why it cannot be used. */
export function parseEntry<T>(text: string | undefined): { value?: T; problem?: string } {
  if (text === undefined) return { problem: 'absent' };
  try {
    return { value: JSON.parse(text) as T };
  } catch {
    return { problem: 'not complete JSON (it was cut to fit the ConfigMap: see the note)' };
  }
}

export interface PlanView {
  resource: string;
  phase?: string;
  run?: string;
  hash?: string;
  approval?: string;
  blockingCategories: string[];
  blocking: Finding[];
  plan?: PlanRecord;
  problem?: string;
  note?: string;
  configMap: string;
}

/** The plan of the current run: the full one from the ConfigMap, else the short one in the status. */
export function planView(
  dm: DatabaseMigration,
  configMap: string,
  data: Record<string, string> | undefined,
): PlanView {
  const parsed = parseEntry<{ plan?: PlanRecord }>(data?.['plan.json']);
  const full = parsed.value?.plan;
  const short = dm.status?.plan;
  const plan: PlanRecord | undefined =
    full ??
    (short
      ? { pending: short.pending, hash: short.hash, findings: short.findings, notCaptured: [] }
      : undefined);
  const spec = validateSpec(dm.spec);
  const categories = spec.ok ? blockingCategories(spec.spec) : [];
  return {
    resource: ref(dm),
    phase: dm.status?.phase,
    run: data?.run,
    hash: plan?.hash ?? short?.hash,
    approval: dm.spec.safety?.approval,
    blockingCategories: categories,
    blocking: (plan?.findings ?? []).filter((f) => (categories as string[]).includes(f.category)),
    plan,
    ...(full
      ? {}
      : {
          problem: data
            ? `plan.json in ConfigMap ${configMap} is ${parsed.problem}; showing the short plan of the status`
            : `ConfigMap ${configMap} is not there (no check has finished yet?); showing the short plan of the status`,
        }),
    ...(data?.['check.note'] ? { note: data['check.note'] } : {}),
    configMap,
  };
}

function findingLine(f: Finding, blocking: boolean): string {
  const at = f.statement !== undefined ? ` (statement ${f.statement})` : '';
  const hint = f.hint ? `\n      hint: ${f.hint}` : '';
  return `  ${blocking ? 'BLOCKING ' : ''}[${f.severity}] ${f.category}/${f.rule} in ${f.migration}${at}: ${f.message}${hint}`;
}

export function planText(v: PlanView): string {
  const out: string[] = [];
  out.push(`Plan of ${v.resource}${v.run ? ` (run ${v.run})` : ''}: phase ${v.phase ?? '<none>'}`);
  if (v.problem) out.push(`Note: ${v.problem}`);
  if (v.note) out.push(`Note: ${v.note}`);
  const plan = v.plan;
  if (!plan) {
    out.push('No plan yet: the check has not finished.');
    return out.join('\n') + '\n';
  }
  out.push(`Hash: ${plan.hash}`);
  if (v.approval)
    out.push(
      `Approved: ${v.approval === plan.hash ? 'yes (spec.safety.approval is this hash)' : `no (spec.safety.approval is ${v.approval}, another plan)`}`,
    );
  out.push('', `Pending migrations (${plan.pending.length}):`);
  for (const m of plan.pending) {
    const sum = plan.checksums?.[m];
    out.push(`  ${m}${sum ? `  sha256:${sum.slice(0, 16)}` : ''}`);
  }
  const blockOn = new Set<string>(v.blockingCategories);
  out.push(
    '',
    `Findings (${plan.findings.length}, ${v.blocking.length} blocking; blocking categories: ${v.blockingCategories.join(', ') || 'none'}):`,
  );
  for (const f of plan.findings) out.push(findingLine(f, blockOn.has(f.category)));
  if (plan.revertFindings?.length) {
    out.push('', `Revert findings (what a revert would do; never blocking) (${plan.revertFindings.length}):`);
    for (const f of plan.revertFindings) out.push(findingLine(f, false));
  }
  if (plan.notCaptured?.length) {
    out.push('', 'Not captured:');
    for (const n of plan.notCaptured) out.push(`  ${n.migration}: ${n.reason}`);
  }
  if (plan.ignored?.length) {
    out.push('', 'Silenced by dbmigrate:ignore:');
    for (const n of plan.ignored) out.push(`  ${n.migration}: ${n.rule} (${n.count})`);
  }
  const s = plan.shadow;
  if (s) {
    out.push(
      '',
      `Shadow trace: ${s.statementsTraced} statements traced on PostgreSQL ${s.shadowMajor} (target ${s.targetVersion}) in ${duration(s.durationMs)}; reversibility ${s.reversibility}`,
    );
    if (s.schemaErrorCount)
      out.push(
        `  ${s.schemaErrorCount} statement(s) of the target's schema did not load: ${s.schemaErrors.join('; ')}`,
      );
  }
  return out.join('\n') + '\n';
}

export interface HistoryView {
  resource: string;
  runs: {
    generation: number;
    attempt: number;
    phase: string;
    startedAt?: string;
    completedAt?: string;
    message?: string;
  }[];
  applied: { run?: string; migrations: AppliedMigration[]; problem?: string };
}

export function historyView(dm: DatabaseMigration, data: Record<string, string> | undefined): HistoryView {
  const parsed = parseEntry<{ migrations?: AppliedMigration[] }>(data?.['applied.json']);
  const fromStatus = (dm.status?.applied ?? []).map((a) => ({ ...a, outcome: 'applied' as const }));
  return {
    resource: ref(dm),
    // Oldest first, as helm history lists releases (the status keeps the newest first).
    runs: [...(dm.status?.history ?? [])].sort(
      (a, b) => a.generation - b.generation || a.attempt - b.attempt,
    ),
    applied: parsed.value?.migrations
      ? { run: data?.run, migrations: parsed.value.migrations }
      : {
          migrations: fromStatus,
          problem: `applied.json is ${data ? parsed.problem : 'absent (no ConfigMap)'}; the list is the status's`,
        },
  };
}

export function historyText(v: HistoryView, now = new Date()): string {
  const runs = v.runs.length
    ? table(
        ['run', 'phase', 'started', 'took', 'message'],
        v.runs.map((r) => [
          `${r.generation}.${r.attempt}`,
          r.phase,
          r.startedAt ? `${age(r.startedAt, now)} ago` : undefined,
          r.startedAt && r.completedAt
            ? duration(Date.parse(r.completedAt) - Date.parse(r.startedAt))
            : undefined,
          r.message,
        ]),
      )
    : 'No finished runs yet.\n';
  const a = v.applied;
  const head = `\nMigrations of the last run${a.run ? ` (${a.run})` : ''}:${a.problem ? ` (${a.problem})` : ''}\n`;
  const applied = a.migrations.length
    ? table(
        ['migration', 'outcome', 'duration', 'checksum'],
        a.migrations.map((m) => [m.name, m.outcome, duration(m.durationMs), m.checksum?.slice(0, 16)]),
      )
    : 'none\n';
  return `Runs of ${v.resource}:\n${runs}${head}${applied}`;
}
