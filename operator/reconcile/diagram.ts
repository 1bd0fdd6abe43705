// The state diagram of docs/state-machine.md, rendered from the transition
// table itself: a Mermaid graph of phases and one table line per row.
// `npm run docs:states` writes it; reconcile/table.test.ts fails when it is stale.
import { ACTIVE_PHASES } from '../phases.js';
import type { Row } from './row.js';
import { queued, resumeWayBack, startRun } from './run-start.js';
import { OUTCOMES, TRANSITIONS } from './table.js';

function edges(from: string, label: string, row: Row): string[] {
  return row.next.filter((to) => to !== from).map((to) => `  ${from} -->|${label}| ${to}`);
}

export function renderStateMachine(): string {
  const lines = [
    '# The run as a state machine',
    '',
    'Generated from `operator/reconcile/table.ts` by `npm run docs:states`; do not edit by hand',
    '(`operator/reconcile/table.test.ts` fails when this page is stale).',
    '',
    'A run starts in Pending. While it is active, each reconcile observes the Job of its phase and',
    'looks up the row for (phase, outcome); the row returns intents (`operator/reconcile/intents.ts`)',
    'that are written to the status before the controller acts on them.',
    '',
    '```mermaid',
    'flowchart TD',
    ...edges('Pending', 'database busy', queued),
    ...edges('Pending', 'database free', startRun),
    ...edges('Queued', 'database free', startRun),
    ...edges('Failed', 'retry after a failed way back', resumeWayBack),
  ];
  for (const phase of ACTIVE_PHASES)
    for (const outcome of OUTCOMES) lines.push(...edges(phase, outcome, TRANSITIONS[phase][outcome]));
  lines.push(
    '```',
    '',
    '| phase | outcome | row | what it does | next phases |',
    '| --- | --- | --- | --- | --- |',
  );
  const line = (phase: string, outcome: string, row: Row): string =>
    `| ${phase} | ${outcome} | \`${row.name}\` | ${row.does} | ${row.next.join(', ') || '(stays)'} |`;
  lines.push(
    line('Pending / Queued', 'database busy', queued),
    line('Pending / Queued', 'database free', startRun),
  );
  for (const phase of ACTIVE_PHASES)
    for (const outcome of OUTCOMES) lines.push(line(phase, outcome, TRANSITIONS[phase][outcome]));
  lines.push(
    '',
    'Outcomes: `absent` the Job is not seen (not created yet, or cache lag); `running`; `succeeded` /',
    '`failed` with the result its container wrote; `resultLost` finished without a readable result;',
    '`inspected` the inspection (a verify Job reading the database) answered.',
    '',
    'Not drawn: a step that loads the migrations (check, migrate, revert) is never started when the',
    "run's migrations ConfigMap changed since the run began; the run ends Failed (MigrationsChanged).",
    '',
  );
  return lines.join('\n');
}
