// SIGTERM/SIGINT: Node as PID 1 ignores SIGTERM unless a handler exists, and
// the kubelet then SIGKILLs after the grace period, leaving no result. On a
// signal we cancel the statements of our own backends (the transaction rolls
// back through the command's normal error path), stop child tools, and let
// main write the result; a deadline escalates to pg_terminate_backend and exit.
import type { ChildProcess } from 'node:child_process';
import { MigratorError } from './result.js';

/** Kills our own backends: 'cancel' the running statement, or 'terminate' the session. */
export type BackendKiller = (how: 'cancel' | 'terminate') => Promise<void>;

const state: {
  signal?: NodeJS.Signals;
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

export function terminatedBy(): NodeJS.Signals | undefined {
  return state.signal;
}

export class TerminatedError extends MigratorError {}

export function terminationError(migration?: string): TerminatedError {
  const m = migration ?? state.current;
  return new TerminatedError(
    `terminated by ${state.signal ?? 'signal'} during ${m ?? 'the run'}`,
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
  const onSignal = (signal: NodeJS.Signals) => {
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
  return {
    done: () => {
      finished = true;
      for (const t of timers) clearTimeout(t);
    },
  };
}
