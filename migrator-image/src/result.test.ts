import { JobResult } from '../../crds/job-result.js';
import { bySeverity, serializeResult, toResultError, totalsOf } from './result.js';
import { registerSecret, scrubSql } from './scrub.js';

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

describe('truncation keeps what decisions need', () => {
  const finding = (i: number, severity: 'info' | 'warning' | 'error') => ({
    rule: `rule-${i}`,
    category: 'locking' as const,
    severity,
    migration: `Migration${i}1700000000000`,
    message: `finding ${i} `.padEnd(120, 'x'),
  });

  it('keeps the most severe findings and the last migrations; totals count the full lists', () => {
    const findings = Array.from({ length: 90 }, (_, i) => finding(i, i % 3 === 0 ? 'error' : 'info'));
    findings.push(finding(999, 'warning'));
    const res: JobResult = {
      step: 'check',
      ok: true,
      startedAt: 'a',
      finishedAt: 'b',
      plan: { pending: ['P1700000000000'], hash: 'h', findings, notCaptured: [] },
      migrations: Array.from({ length: 60 }, (_, i) => ({
        name: `Migration${i}1700000000000`,
        durationMs: i,
        outcome: 'applied' as const,
      })),
    };
    res.totals = totalsOf(res, ['locking']);
    const r = JobResult.parse(JSON.parse(serializeResult(res)));
    expect(r.truncated).toBe(true);
    expect(r.totals).toEqual({
      pending: 1,
      findings: 91,
      blocking: 91,
      applied: 60,
      bySeverity: { error: 30, info: 60, warning: 1 },
      byCategory: { locking: 91 },
    });
    const kept = r.plan!.findings.map((f) => f.severity);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(91);
    // Errors first (all 30 fit before any warning or info is kept).
    const rank = { error: 0, warning: 1, info: 2 };
    expect(kept).toEqual([...kept].sort((a, b) => rank[a] - rank[b]));
    expect(kept[0]).toBe('error');
    expect(r.migrations!.at(-1)?.name).toBe('Migration591700000000000');
  });

  it('bySeverity is stable within a severity', () => {
    const sorted = bySeverity([
      finding(1, 'info'),
      finding(2, 'error'),
      finding(3, 'info'),
      finding(4, 'warning'),
    ]);
    expect(sorted.map((f) => f.rule)).toEqual(['rule-2', 'rule-4', 'rule-1', 'rule-3']);
  });

  it('leaves blocking out when no block list is given', () => {
    const t = totalsOf(
      {
        step: 'check',
        ok: true,
        startedAt: 'a',
        finishedAt: 'b',
        plan: { pending: [], hash: '', findings: [finding(1, 'error')], notCaptured: [] },
      },
      undefined,
    );
    expect(t).toEqual({ pending: 0, findings: 1, bySeverity: { error: 1 }, byCategory: { locking: 1 } });
  });
});

describe('error context', () => {
  it("carries PostgreSQL's DETAIL, HINT and the statement, bounded and scrubbed", () => {
    registerSecret('pa55-secret');
    const err = Object.assign(new Error('duplicate key value violates unique constraint "u"'), {
      code: '23505',
      detail: 'Key (token)=(pa55-secret) already exists.',
      hint: 'Check\nthe data.',
      query: `ALTER ROLE app PASSWORD 'hunter3'; INSERT INTO t VALUES ('${'v'.repeat(400)}')`,
    });
    const e = toResultError(err, 'M1');
    expect(e).toMatchObject({
      code: '23505',
      migration: 'M1',
      detail: 'Key (token)=(***) already exists.',
      hint: 'Check the data.',
    });
    expect(e.statement).toMatch(/^ALTER ROLE app PASSWORD '\*\*\*'; INSERT INTO t VALUES \('v+\.\.\.$/);
    expect(e.statement).toHaveLength(300);
  });

  it('scrubSql hides password-like literals and URL credentials', () => {
    expect(scrubSql(`CREATE ROLE x PASSWORD 'a''b' LOGIN`)).toBe(`CREATE ROLE x PASSWORD '***' LOGIN`);
    expect(scrubSql(`UPDATE cfg SET api_token = 'abc' WHERE id = 1`)).toBe(
      `UPDATE cfg SET api_token = '***' WHERE id = 1`,
    );
    expect(scrubSql(`SELECT dblink('postgres://u:pw@h/db', 'x')`)).toBe(
      `SELECT dblink('postgres://u:***@h/db', 'x')`,
    );
  });
});

describe('serializeResult: plan checksums', () => {
  it('shortens the checksums like a list, so a long plan keeps its plan (not only the verdict)', () => {
    const pending = Array.from({ length: 200 }, (_, i) => `Migration${1700000000000 + i}`);
    const checksums = Object.fromEntries(pending.map((n, i) => [n, i.toString(16).padStart(64, '0')]));
    const text = serializeResult({
      step: 'check',
      ok: true,
      startedAt: 't0',
      finishedAt: 't1',
      plan: { pending, hash: 'h', findings: [], notCaptured: [], checksums },
    });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    const parsed = JobResult.parse(JSON.parse(text));
    expect(parsed.truncated).toBe(true);
    const kept = Object.keys(parsed.plan?.checksums ?? {});
    expect(kept.length).toBeGreaterThan(0);
    // The first names are kept, each with its own checksum.
    expect(kept[0]).toBe(pending[0]);
    expect(parsed.plan?.checksums?.[pending[0]!]).toBe(checksums[pending[0]!]);
  });
});
