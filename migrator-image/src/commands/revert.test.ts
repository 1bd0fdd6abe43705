import { targetsByName } from './revert.js';

const executed = (...names: string[]) =>
  names.map((name, i) => ({ name, id: names.length - i, timestamp: 1700000000000 + names.length - i }));

describe('targetsByName', () => {
  const applied = executed('C1700000000003', 'B1700000000002', 'A1700000000001'); // newest first

  it('takes the newest applied ones in order', () => {
    const r = targetsByName(['C1700000000003', 'B1700000000002'], applied as never, new Map());
    expect(r.targets.map((m) => m.name)).toEqual(['C1700000000003', 'B1700000000002']);
    expect(r.alreadyReverted).toEqual([]);
  });

  it('skips names already reverted at the head of the list (a re-created Job)', () => {
    const history = new Map([['D1700000000004', { direction: 'down' as const }]]);
    const r = targetsByName(['D1700000000004', 'C1700000000003'], applied as never, history);
    expect(r.targets.map((m) => m.name)).toEqual(['C1700000000003']);
    expect(r.alreadyReverted).toEqual(['D1700000000004']);
  });

  it('refuses out of order, unknown, and a gap after a still-applied one', () => {
    expect(() => targetsByName(['B1700000000002'], applied as never, new Map())).toThrow(
      'cannot revert B1700000000002: the newest applied migration is C1700000000003; revert newest first',
    );
    expect(() => targetsByName(['X1700000000009'], applied as never, new Map())).toThrow(
      'cannot revert X1700000000009: it is not an applied migration',
    );
    const history = new Map([['D1700000000004', { direction: 'down' as const }]]);
    expect(() => targetsByName(['C1700000000003', 'D1700000000004'], applied as never, history)).toThrow(
      /cannot revert D1700000000004: it is not applied, while C1700000000003 still is/,
    );
  });
});
