import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, lines };
}

describe('createLogger', () => {
  it('writes JSON lines with component, level label and ISO time', () => {
    const { stream, lines } = capture();
    const log = createLogger({ level: 'debug', destination: stream });
    log.debug({ key: 'ns/a' }, 'reconciling');
    const [line] = lines();
    expect(line).toMatchObject({ component: 'operator', level: 'debug', key: 'ns/a', msg: 'reconciling' });
    expect(typeof line?.time).toBe('string');
    expect(new Date(line?.time as string).toISOString()).toBe(line?.time);
  });

  it('honours the level', () => {
    const { stream, lines } = capture();
    const log = createLogger({ level: 'warn', destination: stream });
    log.info('hidden');
    log.warn('shown');
    expect(lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it('redacts passwords, tokens and authorization headers', () => {
    const { stream, lines } = capture();
    const log = createLogger({ destination: stream });
    log.info(
      {
        password: 'p1',
        db: { password: 'p2', host: 'db' },
        token: 't1',
        user: { token: 't2' },
        authorization: 'Bearer a',
        req: { headers: { authorization: 'Bearer b' } },
      },
      'x',
    );
    const text = JSON.stringify(lines()[0]);
    for (const secret of ['p1', 'p2', 't1', 't2', 'Bearer a', 'Bearer b']) expect(text).not.toContain(secret);
    expect(lines()[0]).toMatchObject({ db: { password: '[REDACTED]', host: 'db' } });
  });
});
