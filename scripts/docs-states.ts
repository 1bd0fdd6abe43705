// Writes docs/state-machine.md from the reconciler's transition table.
import { writeFileSync } from 'node:fs';
import { renderStateMachine } from '../operator/reconcile/diagram.js';

const target = new URL('../docs/state-machine.md', import.meta.url);
writeFileSync(target, renderStateMachine());
console.log(`wrote ${target.pathname}`);
