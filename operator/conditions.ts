// kstatus-style conditions. lastTransitionTime changes only when status flips,
// so watchers (kubectl wait, Helm 4, Argo CD) see stable timestamps.
import type { Condition } from '../crds/database-migration.js';

export type ConditionStatus = Condition['status'];
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  now: string,
  observedGeneration: number,
): Condition[] {
  const existing = conditions.find((c) => c.type === input.type);
  const lastTransitionTime = existing && existing.status === input.status ? existing.lastTransitionTime : now;
  const next: Condition = { ...input, lastTransitionTime, observedGeneration };
  const others = conditions.filter((c) => c.type !== input.type);
  return [...others, next].sort((a, b) => conditionOrder(a.type) - conditionOrder(b.type));
}

export function getCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

const ORDER = [
  'Ready',
  'Reconciling',
  'Stalled',
  'Checked',
  'BackedUp',
  'MigrationsApplied',
  'Verified',
  'RolledBack',
  'Restored',
];
function conditionOrder(type: string): number {
  const i = ORDER.indexOf(type);
  return i === -1 ? ORDER.length : i;
}
