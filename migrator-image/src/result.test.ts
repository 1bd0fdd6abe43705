import { JobResult } from '../../crds/job-result.js';
import { serializeResult, toResultError } from './result.js';
import { registerSecret } from './scrub.js';

describe('serializeResult', () => {
  it('keeps results under 4 KiB by shortening lists, never the verdict', () => {
    const problems = Array.from(
      { length: 200 },
      (_, i) => `problem number ${i} with some words to make it longer`,
    );
    const text = serializeResult({
      step: 'migrate',
      ok: false,
      startedAt: 'a',
      finishedAt: 'b',
      error: { message: 'boom', code: '23514', migration: 'M1700000000000' },
      migrations: Array.from({ length: 100 }, (_, i) => ({
        name: `Migration${i}1700000000000`,
        durationMs: i,
        checksum: 'f'.repeat(64),
        outcome: 'applied' as const,
      })),
      verify: { pending: [], problems },
    });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    const r = JobResult.parse(JSON.parse(text));
    expect(r.truncated).toBe(true);
    expect(r.ok).toBe(false);
    expect(r.error).toEqual({ message: 'boom', code: '23514', migration: 'M1700000000000' });
    expect(r.step).toBe('migrate');
  });

  it('leaves small results alone', () => {
    const res = { step: 'check' as const, ok: true, startedAt: 'a', finishedAt: 'b' };
    expect(JSON.parse(serializeResult(res))).toEqual(res);
  });
});

describe('toResultError', () => {
  it('keeps one line, the SQLSTATE, and scrubs the password', () => {
    registerSecret('hunter2!');
    const err = Object.assign(new Error('connect failed for hunter2!\nsecond line'), { code: '28P01' });
    expect(toResultError(err, 'M1')).toEqual({
      message: 'connect failed for ***',
      code: '28P01',
      migration: 'M1',
    });
    expect(toResultError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toEqual({ message: 'x' });
  });
});
