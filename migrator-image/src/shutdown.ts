// SIGTERM/SIGINT: Node as PID 1 ignores SIGTERM unless a handler exists, and
// the kubelet then SIGKILLs after the grace period, leaving no result. On a
// signal we cancel the statements of our own backends (the transaction rolls
// back through the command's normal error path), stop child tools, and let
// main write the result; a deadline escalates to pg_terminate_backend and exit.
// The step's own deadline (STEP_DEADLINE_SECONDS, the Job's activeDeadlineSeconds)
// starts the same shutdown a margin before it: the Job controller deletes the Pod
// at its deadline, and a deleted Pod's result can no longer be read.
import type { ChildProcess } from 'node:child_process';
import { MigratorError } from './result.js';

/** Kills our own backends: 'cancel' the running statement, or 'terminate' the session. */
export type BackendKiller = (how: 'cancel' | 'terminate') => Promise<void>;

/** What stopped the command: a signal, or the step deadline approaching. */
export type StopCause = NodeJS.Signals | 'deadline';

const state: {
  signal?: StopCause;
  current?: string;
  children: Set<ChildProcess>;
} = { children: new Set() };

/** The migration being applied or reverted now, named in a termination error. */
export function setCurrent(name: string | undefined): void {
  state.current = name;
}

export function current(): string | undefined {
  return state.current;
}

export function terminatedBy(): StopCause | undefined {
  return state.signal;
}

export class TerminatedError extends MigratorError {}

export function terminationError(migration?: string): TerminatedError {
  const m = migration ?? state.current;
  const by =
    state.signal === 'deadline'
      ? 'stopped before the step deadline (STEP_DEADLINE_SECONDS)'
      : `terminated by ${state.signal ?? 'signal'}`;
  return new TerminatedError(
    `${by} during ${m ?? 'the run'}`,
    m,
    // query_canceled: what PostgreSQL reports for the statement we cancelled.
    '57014',
  );
}

/** Loops that wait (advisory lock polling) stop at once after a signal. */
export function throwIfTerminating(): void {
  if (state.signal) throw terminationError();
}

/** pg_dump/pg_restore children get the signal too; they roll back their own work. */
export function trackChild(child: ChildProcess): void {
  state.children.add(child);
  child.once('close', () => state.children.delete(child));
  if (state.signal) child.kill('SIGTERM');
}

export interface ShutdownOptions {
  killBackends: BackendKiller;
  /** Called once the grace period is over, with the run still going: write the result and exit. */
  onDeadline: () => void;
  graceMs: number;
  /** From now, when to stop as if signalled (the step deadline minus a margin); none when unset. */
  stopAfterMs?: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Cancels every 250 ms until the command ends (a cancel that lands between two
 * statements of a migration would otherwise be lost), terminates our sessions at
 * half the grace period, and gives up at the grace period.
 */
export function installSignalHandlers(opts: ShutdownOptions): { done: () => void } {
  const timers: NodeJS.Timeout[] = [];
  let finished = false;
  const onSignal = (signal: StopCause) => {
    if (state.signal || finished) return;
    state.signal = signal;
    opts.log('signal received: cancelling our statements', { signal, migration: state.current });
    for (const c of state.children) c.kill('SIGTERM');
    const kill = (how: 'cancel' | 'terminate') =>
      opts
        .killBackends(how)
        .catch((err: unknown) => opts.log('could not reach the database', { how, err: String(err) }));
    void kill('cancel');
    const again = setInterval(() => void kill('cancel'), 250);
    timers.push(again);
    timers.push(
      setTimeout(() => {
        clearInterval(again);
        void kill('terminate');
      }, opts.graceMs / 2),
    );
    timers.push(setTimeout(() => opts.onDeadline(), opts.graceMs));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (opts.stopAfterMs !== undefined) {
    const t = setTimeout(() => {
      opts.log('the step deadline is near: stopping so the result is written while the Pod exists', {
        stopAfterMs: opts.stopAfterMs,
      });
      onSignal('deadline');
    }, opts.stopAfterMs);
    // Never what keeps a finished command alive.
    t.unref();
    timers.push(t);
  }
  return {
    done: () => {
      finished = true;
      for (const t of timers) clearTimeout(t);
    },
  };
}

/** Seconds kept between the stop and the step deadline (at least the grace period plus 2 s). */
export const DEADLINE_MARGIN_SECONDS = 10;

/**
 * When to stop for a step deadline of `deadlineSeconds` (counted from
 * `startedAtMs`, a performance.now() reading): a margin before it that covers
 * the grace period, so the result is written before the Job controller deletes
 * the Pod. A deadline shorter than twice the margin stops at its half, so a
 * short deadline still leaves the command most of its time.
 */
export function stopAfterMs(
  deadlineSeconds: number | undefined,
  graceSeconds: number,
  startedAtMs: number,
  nowMs: number = performance.now(),
): { stopAfterMs?: number } {
  if (deadlineSeconds === undefined) return {};
  const margin = Math.max(DEADLINE_MARGIN_SECONDS, graceSeconds + 2);
  const stopAtSeconds = Math.max(deadlineSeconds - margin, deadlineSeconds / 2);
  return { stopAfterMs: Math.max(0, Math.round(startedAtMs + stopAtSeconds * 1000 - nowMs)) };
}

export { drained, exitFlushed } from './exit.js';
