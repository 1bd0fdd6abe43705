import { age, duration, render, table } from './format.js';

describe('table', () => {
  it('aligns columns under upper-case headers and shows <none> for empty cells', () => {
    expect(
      table(
        ['name', 'phase', 'age'],
        [
          ['orders', 'Blocked', '5m'],
          ['a-much-longer-name', undefined, '10s'],
        ],
      ),
    ).toBe(
      [
        'NAME                 PHASE     AGE',
        'orders               Blocked   5m',
        'a-much-longer-name   <none>    10s',
        '',
      ].join('\n'),
    );
  });
});

describe('age', () => {
  const now = new Date('2026-01-10T12:00:00Z');
  const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
  it.each([
    [5, '5s'],
    [119, '119s'],
    [130, '2m10s'],
    [600, '10m'],
    [3 * 3600 + 60, '3h1m'],
    [9 * 3600, '9h'],
    [3 * 86400 + 4 * 3600, '3d4h'],
    [400 * 86400, '400d'],
  ])('%i seconds read as %s, as kubectl prints them', (s, text) => {
    expect(age(ago(s), now)).toBe(text);
  });
  it('is undefined for a missing or unparsable time, 0s for a future one', () => {
    expect(age(undefined, now)).toBeUndefined();
    expect(age('yesterday', now)).toBeUndefined();
    expect(age('2026-01-10T12:00:30Z', now)).toBe('0s');
  });
});

describe('duration', () => {
  it('reads in ms, s or m', () => {
    expect([850, 1234, 184_000].map(duration)).toEqual(['850ms', '1.2s', '3m4s']);
    expect(duration(undefined)).toBeUndefined();
  });
});

describe('render', () => {
  it('prints the data for json and yaml, the text only for table', () => {
    let calls = 0;
    const text = () => {
      calls++;
      return 'TEXT\n';
    };
    expect(JSON.parse(render('json', { a: 1 }, text))).toEqual({ a: 1 });
    expect(render('yaml', { a: [1] }, text)).toBe('a:\n  - 1\n');
    expect(calls).toBe(0);
    expect(render('table', { a: 1 }, text)).toBe('TEXT\n');
  });
});
