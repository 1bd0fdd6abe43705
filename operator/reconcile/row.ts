// The shape of one row of the transition table, and the small helpers rows share.
import type { Phase } from '../../crds/database-migration.js';
import type { JobResult, JobStep } from '../../crds/job-result.js';
import { STEP_OF_PHASE, type ActivePhase } from '../phases.js';
import { capitalize, type Ctx } from './context.js';
import type { Intent } from './intents.js';

/** What the edge saw of the step's Job (or of the inspection's verify Job). */
export interface Seen {
  step: JobStep;
  /** The Job's result, when its container wrote a valid one. */
  result?: JobResult;
  /** Why the Job failed ('' when it succeeded). */
  message: string;
}

export interface Row {
  /** The row's name, as the state diagram and the logs show it. */
  name: string;
  /** One line for the diagram: what the row does. */
  does: string;
  /** The phases this row may lead to (the run's own phase when it stays). */
  next: readonly Phase[];
  decide(ctx: Readonly<Ctx>, seen: Seen): Intent[];
}

/** status.lastError from a failed step, and the one-line text every failure row reports. */
export function failureOf(phase: ActivePhase, seen: Seen): { lastError: Intent; text: string } {
  const step = STEP_OF_PHASE[phase];
  const err = seen.result?.error;
  const message = err?.message ?? seen.message;
  const lastError = {
    step,
    message,
    ...(err?.code ? { code: err.code } : {}),
    ...(err?.migration ? { migration: err.migration } : {}),
  };
  const where = err?.migration ? ` in ${err.migration}` : '';
  const code = err?.code ? ` (SQLSTATE ${err.code})` : '';
  return {
    lastError: { kind: 'record', status: { lastError } },
    text: `${capitalize(step)} failed${where}: ${message}${code}`,
  };
}

export function finishIntent(
  phase: Phase,
  result: Extract<Intent, { kind: 'finish' }>['result'],
  reason: string,
  message: string,
  event: 'Normal' | 'Warning',
  emit = true,
): Intent {
  return { kind: 'finish', phase, result, reason, message, event, ...(emit ? {} : { emit: false }) };
}
