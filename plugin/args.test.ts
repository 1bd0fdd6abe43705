import { parseArgs, type Parsed } from './args.js';

const ok = (p: Parsed) => {
  if (!p.ok) throw new Error(`expected a parse, got ${p.error ?? 'help'}`);
  return p.invocation;
};
const error = (p: Parsed) => (p.ok ? undefined : p.error);

describe('parseArgs', () => {
  it('reads kubectl-style flags in any order and spelling', () => {
    expect(
      ok(parseArgs(['status', '-n', 'shop', '--context=prod', '--kubeconfig', '/k', '-o', 'json'])),
    ).toEqual({
      command: 'status',
      namespace: 'shop',
      context: 'prod',
      kubeconfig: '/k',
      output: 'json',
      yes: false,
      allNamespaces: false,
    });
    expect(ok(parseArgs(['-nshop', 'plan', 'orders', '-oyaml']))).toMatchObject({
      command: 'plan',
      name: 'orders',
      namespace: 'shop',
      output: 'yaml',
    });
    expect(ok(parseArgs(['approve', 'orders', '-y'])).yes).toBe(true);
    expect(ok(parseArgs(['status', '-A'])).allNamespaces).toBe(true);
  });

  it('needs a name for every command but status', () => {
    for (const c of ['plan', 'approve', 'retry', 'logs', 'history'])
      expect(error(parseArgs([c]))).toBe(`${c} needs the name of a DatabaseMigration`);
    expect(ok(parseArgs(['status'])).name).toBeUndefined();
  });

  it('takes exactly one of --steps and --to for rollback, --steps a whole number in range', () => {
    expect(ok(parseArgs(['rollback', 'orders', '--steps', '2'])).steps).toBe(2);
    expect(ok(parseArgs(['rollback', 'orders', '--to=Init1700000000000'])).to).toBe('Init1700000000000');
    expect(error(parseArgs(['rollback', 'orders']))).toMatch(/exactly one of --steps N and --to/);
    expect(error(parseArgs(['rollback', 'orders', '--steps', '1', '--to', 'X']))).toMatch(/exactly one/);
    for (const bad of ['0', '-1', '1.5', 'two', '1001'])
      expect(error(parseArgs(['rollback', 'orders', `--steps=${bad}`]))).toMatch(
        /--steps must be a whole number/,
      );
  });

  it('refuses flags of other commands, unknown flags, steps and outputs', () => {
    expect(error(parseArgs(['plan', 'orders', '--steps', '1']))).toBe('--steps applies to rollback only');
    expect(error(parseArgs(['status', '--step', 'check']))).toBe('--step applies to logs only');
    expect(error(parseArgs(['logs', 'orders', '--step', 'deploy']))).toMatch(
      /--step must be one of check, backup/,
    );
    expect(ok(parseArgs(['logs', 'orders', '--step', 'migrate'])).step).toBe('migrate');
    expect(error(parseArgs(['status', '--watch']))).toBe('unknown flag --watch');
    expect(error(parseArgs(['status', '-o', 'wide']))).toMatch(/-o must be one of table, json, yaml/);
    expect(error(parseArgs(['deploy', 'orders']))).toBe('unknown command "deploy"');
    expect(error(parseArgs(['plan', 'a', 'b']))).toBe('unexpected argument "b"');
    expect(error(parseArgs(['plan', 'a', '-n']))).toBe('-n needs a value');
    expect(error(parseArgs(['plan', 'a', '-A']))).toMatch(/-A applies to status without a NAME/);
    // Short groups, "-" and "--" mean nothing here; -n=NS is -nNS, as kubectl reads it.
    for (const arg of ['-yA', '-yn', '--yes=1', '-', '--'])
      expect(error(parseArgs(['status', arg]))).toBe(`unknown flag ${arg}`);
    expect(error(parseArgs(['plan', 'a', '-n=']))).toBe('-n needs a value');
    expect(ok(parseArgs(['status', '-n=shop'])).namespace).toBe('shop');
    // A flag's value is the next argument, whatever it looks like.
    expect(error(parseArgs(['rollback', 'a', '--steps', '-1']))).toMatch(/--steps must be a whole number/);
    expect(ok(parseArgs(['status', '-n', 'help'])).namespace).toBe('help');
  });

  it('asks for help with no command or -h', () => {
    expect(parseArgs([])).toEqual({ ok: false, help: true });
    expect(parseArgs(['status', '--help'])).toEqual({ ok: false, help: true });
  });
});
