// Which phases hold a run open, which end it, and the Job step each active phase runs.
import type { Phase } from '../crds/database-migration.js';
import type { JobStep } from '../crds/job-result.js';

export const ACTIVE_PHASES = ['Checking', 'BackingUp', 'Migrating', 'RollingBack', 'Restoring'] as const;
export type ActivePhase = (typeof ACTIVE_PHASES)[number];
export const TERMINAL_PHASES: readonly Phase[] = ['Succeeded', 'Failed', 'Blocked', 'RolledBack', 'Restored'];

export const STEP_OF_PHASE: Record<ActivePhase, JobStep> = {
  Checking: 'check',
  BackingUp: 'backup',
  Migrating: 'migrate',
  RollingBack: 'revert',
  Restoring: 'restore',
};

export function isActive(phase: Phase | undefined): phase is ActivePhase {
  return phase !== undefined && (ACTIVE_PHASES as readonly string[]).includes(phase);
}

export function isTerminal(phase: Phase | undefined): boolean {
  return phase !== undefined && TERMINAL_PHASES.includes(phase);
}

/** A run that has touched (or may be touching) the schema must finish even if the spec changes. */
export function mustFinishBeforeNewGeneration(phase: Phase | undefined): boolean {
  return phase === 'Migrating' || phase === 'RollingBack' || phase === 'Restoring';
}
