import { assertPlanUnchanged, planChecksums } from './checksums.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const byName = new Map([
  ['M1', { checksum: A }],
  ['M2', { checksum: B }],
]);

describe('planChecksums', () => {
  it("maps each pending name to its file's sha256", () => {
    expect(planChecksums(['M1', 'M2'], byName)).toEqual({ M1: A, M2: B });
    expect(planChecksums([], byName)).toEqual({});
    expect(() => planChecksums(['M3'], byName)).toThrow('pending migration M3 has no loaded file');
  });
});

describe('assertPlanUnchanged', () => {
  it('passes when the pending files are the checked ones', () => {
    expect(() =>
      assertPlanUnchanged({ checksums: { M1: A, M2: B }, pendingCount: 2 }, ['M1', 'M2'], byName),
    ).not.toThrow();
  });

  it('refuses a changed file, naming the migration', () => {
    expect(() =>
      assertPlanUnchanged({ checksums: { M1: A, M2: C }, pendingCount: 2 }, ['M1', 'M2'], byName),
    ).toThrow(
      expect.objectContaining({
        migration: 'M2',
        message: expect.stringMatching(
          /^migration M2 changed since the check: its file has sha256 bbbbbbbbbbbb, the checked plan cccccccccccc/,
        ),
      }),
    );
  });

  it('refuses a pending migration the plan did not have', () => {
    expect(() =>
      assertPlanUnchanged({ checksums: { M1: A }, pendingCount: 1 }, ['M1', 'M2'], byName),
    ).toThrow(
      expect.objectContaining({
        migration: 'M2',
        message: expect.stringMatching(/^migration M2 is pending but was not in the checked plan/),
      }),
    );
  });

  it('with a cut plan, checks the names it has and the count', () => {
    // Three pending at the check, one checksum kept: another M2 is not known, but the count is.
    expect(() =>
      assertPlanUnchanged({ checksums: { M1: A }, pendingCount: 2 }, ['M1', 'M2'], byName),
    ).not.toThrow();
    expect(() =>
      assertPlanUnchanged({ checksums: { M1: A }, pendingCount: 3 }, ['M1', 'M2'], byName),
    ).toThrow(/^2 migration\(s\) pending now, 3 in the checked plan/);
  });
});
