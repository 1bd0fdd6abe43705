import { Env } from '../migrator-image/src/config.js';
import { EnvVar, RESERVED_MIGRATOR_ENV, TUNABLE_MIGRATOR_ENV } from './pod-template.js';

describe('jobTemplate.env', () => {
  it('decides, for every setting the migrator reads, whether a user may set it', () => {
    const migrator = Object.keys(Env.shape).filter((k) => !k.startsWith('PG'));
    expect(
      [...RESERVED_MIGRATOR_ENV, ...TUNABLE_MIGRATOR_ENV].filter((k) => !k.startsWith('PG')).sort(),
    ).toEqual(migrator.sort());
  });

  it.each([
    ['PGPASSWORD', /PG\* variables are the connection/],
    ['REVERT_STEPS', /migrator setting the operator derives from the spec/],
    ['RESULT_PATH', /migrator setting/],
  ])('refuses %s', (name, message) => {
    const r = EnvVar.safeParse({ name, value: 'x' });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message).join()).toMatch(message);
  });

  it.each(['HTTPS_PROXY', 'NODE_OPTIONS', 'ENTITIES_DIR', 'SHUTDOWN_GRACE_SECONDS'])('accepts %s', (name) => {
    expect(EnvVar.safeParse({ name, value: 'x' }).success).toBe(true);
  });
});
