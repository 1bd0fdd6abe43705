import { readArgs, type Flags } from './cli-args.js';

const FLAGS = {
  namespace: { type: 'string', short: 'n' },
  yes: { type: 'boolean', short: 'y' },
  all: { type: 'boolean', short: 'A' },
  'fail-on': { type: 'string' },
} satisfies Flags;

describe('readArgs', () => {
  it('reads --flag value, --flag=value, -fvalue and -f=value, in order', () => {
    expect(readArgs(['--namespace', 'a', '--fail-on=info', '-nb', '-n=c', 'x'], FLAGS)).toEqual([
      { kind: 'flag', name: 'namespace', flag: '--namespace', value: 'a', arg: '--namespace' },
      { kind: 'flag', name: 'fail-on', flag: '--fail-on', value: 'info', arg: '--fail-on=info' },
      { kind: 'flag', name: 'namespace', flag: '-n', value: 'b', arg: '-nb' },
      { kind: 'flag', name: 'namespace', flag: '-n', value: 'c', arg: '-n=c' },
      { kind: 'positional', value: 'x', arg: 'x' },
    ]);
  });

  it('takes the next argument as the value whatever it looks like, and none at the end', () => {
    expect(readArgs(['-n', '-y', '--fail-on'], FLAGS)).toEqual([
      { kind: 'flag', name: 'namespace', flag: '-n', value: '-y', arg: '-n' },
      { kind: 'flag', name: 'fail-on', flag: '--fail-on', value: undefined, arg: '--fail-on' },
    ]);
  });

  it('returns what is no flag of the command as written: unknown flags, short groups, switches with a value', () => {
    for (const arg of ['--watch', '--watch=1', '-x', '-xyz', '-yA', '-yn', '--yes=1', '-y=1'])
      expect(readArgs([arg, 'shop'], FLAGS)[0]).toEqual({ kind: 'unknown', arg });
    expect(readArgs(['-y', '--all'], FLAGS)).toEqual([
      { kind: 'flag', name: 'yes', flag: '-y', arg: '-y' },
      { kind: 'flag', name: 'all', flag: '--all', arg: '--all' },
    ]);
  });

  it('keeps "-" a positional and everything after -- positionals', () => {
    expect(readArgs(['-', '--', '--json', '-y'], FLAGS)).toEqual([
      { kind: 'positional', value: '-', arg: '-' },
      { kind: 'end', arg: '--' },
      { kind: 'positional', value: '--json', arg: '--json' },
      { kind: 'positional', value: '-y', arg: '-y' },
    ]);
  });
});
