import { downProblem } from './loader.js';

describe('downProblem', () => {
  it('tells empty and missing down() from one that does something', () => {
    class Empty {
      async down(): Promise<void> {
        // nothing
      }
    }
    class Real {
      async down(qr: { query: (s: string) => Promise<unknown> }): Promise<void> {
        await qr.query('DROP TABLE x');
      }
    }
    expect(downProblem(Empty.prototype.down)).toBe('empty');
    expect(downProblem(Real.prototype.down)).toBeUndefined();
    expect(downProblem(undefined)).toBe('missing');
    // tsc's ES2015 down-level output of an empty async method
    const awaiter = new Function(
      'return function down(queryRunner) { return __awaiter(this, void 0, void 0, function* () { }); }',
    )() as unknown;
    expect(downProblem(awaiter)).toBe('empty');
    const returns = new Function('return function down() { return Promise.resolve(); }')() as unknown;
    expect(downProblem(returns)).toBe('empty');
    expect(downProblem((qr: { query: (s: string) => unknown }) => qr.query('x'))).toBeUndefined();
  });
});
