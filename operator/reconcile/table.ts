// THE TRANSITION TABLE. Every move of an active run is one row, looked up by
// (phase, observed outcome of the phase's Job). To learn what follows "backup
// failed while BackingUp", read TRANSITIONS.BackingUp.failed. The state diagram
// in docs/state-machine.md is generated from this table (npm run docs:states).
import type { StepObservation } from '../job-observer.js';
import type { ActivePhase } from '../phases.js';
import { backedUp, backupFailed, checkFailed, planChecked } from './rows-before.js';
import { inspect, inspectedNeedsHuman, migrateInspected } from './rows-inspection.js';
import { migrateFailed, migrateRunning, migrationsApplied } from './rows-migrate.js';
import { restored, restoreFailed, reverted, revertFailed } from './rows-way-back.js';
import type { Row } from './row.js';

/**
 * What the edge observed of the phase's Job:
 * - absent: not seen (not created yet, or cache lag);
 * - running: not finished;
 * - succeeded / failed: finished, with the result its container wrote (or without one, for failed);
 * - resultLost: finished without a readable result (Pod deleted, container killed);
 * - inspected: the inspection's verify Job finished (with its answer, if any).
 */
export const OUTCOMES = ['absent', 'running', 'succeeded', 'failed', 'resultLost', 'inspected'] as const;
export type Outcome = (typeof OUTCOMES)[number];

const createOrAdoptJob: Row = {
  name: 'createOrAdoptJob',
  does: 'create the Job (AlreadyExists adopts it); the workloads stopped first where the step needs it, Failed (WorkloadsDidNotStop) when they are not gone within stopWorkloadsTimeoutSeconds',
  next: ['Failed'],
  decide: (_ctx, seen) => [{ kind: 'ensureJob', step: seen.step }],
};

const waitForJob: Row = {
  name: 'waitForJob',
  does: 'nothing: a Job event wakes the run',
  next: [],
  decide: () => [],
};

export const TRANSITIONS: { readonly [P in ActivePhase]: { readonly [O in Outcome]: Row } } = {
  Checking: {
    absent: createOrAdoptJob,
    running: waitForJob,
    succeeded: planChecked,
    failed: checkFailed,
    // The check changed nothing: a lost result is a failure like any other.
    resultLost: checkFailed,
    inspected: inspectedNeedsHuman,
  },
  BackingUp: {
    absent: createOrAdoptJob,
    running: waitForJob,
    succeeded: backedUp,
    failed: backupFailed,
    // The backup changed nothing on the database either.
    resultLost: backupFailed,
    inspected: inspectedNeedsHuman,
  },
  Migrating: {
    absent: createOrAdoptJob,
    running: migrateRunning,
    succeeded: migrationsApplied,
    failed: migrateFailed,
    resultLost: inspect,
    inspected: migrateInspected,
  },
  RollingBack: {
    absent: createOrAdoptJob,
    running: waitForJob,
    succeeded: reverted,
    failed: revertFailed,
    resultLost: inspect,
    inspected: inspectedNeedsHuman,
  },
  Restoring: {
    absent: createOrAdoptJob,
    running: waitForJob,
    succeeded: restored,
    failed: restoreFailed,
    resultLost: inspect,
    inspected: inspectedNeedsHuman,
  },
};

/** The outcome of the observed Job; `inspecting` when the Job is the inspection's verify Job. */
export function outcomeOf(obs: StepObservation, inspecting: boolean): Outcome {
  if (obs.state === 'absent' || obs.state === 'running') return obs.state;
  if (inspecting) return 'inspected';
  if (obs.state === 'succeeded') return 'succeeded';
  return obs.unreadable ? 'resultLost' : 'failed';
}
