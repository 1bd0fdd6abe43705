// The command lines of `migrator lint`, `migrator check` (the local CLI) and
// `kubectl dbm`, split by node:util parseArgs (--flag=value, --flag value,
// -fvalue, -- and short groups), then read by each command in order, so the first
// problem on the line is the one reported, in the command's own words. What is
// not a flag of the command comes back as written: an unknown flag, a short
// group (-yA) and a value given to a switch (--json=1) alike.
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';

/** The flags of a command: long name to its type and one-letter form. */
export type Flags = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export type Arg =
  /** A flag of the command; `flag` as written (-n or --namespace), `value` for a string flag (undefined: none followed). */
  | { kind: 'flag'; name: string; flag: string; value?: string; arg: string }
  | { kind: 'positional'; value: string; arg: string }
  /** Not a flag of the command. */
  | { kind: 'unknown'; arg: string }
  /** `--`: parseArgs returns the rest as positionals. */
  | { kind: 'end'; arg: '--' };

export function readArgs(argv: readonly string[], flags: Flags): Arg[] {
  const { tokens } = parseArgs({
    args: [...argv],
    options: flags,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const out: Arg[] = [];
  let seen = -1;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') out.push({ kind: 'end', arg: '--' });
    else if (t.kind === 'positional') out.push({ kind: 'positional', value: t.value, arg: t.value });
    else if (t.index !== seen) {
      // The later options of a short group (same argv element) were judged with its first.
      seen = t.index;
      const arg = argv[t.index] as string;
      const type = Object.hasOwn(flags, t.name) ? flags[t.name]?.type : undefined;
      if (type === undefined || (type === 'boolean' && arg !== t.rawName)) out.push({ kind: 'unknown', arg });
      else {
        // -n=value reads as -nvalue, as kubectl reads it.
        const value = t.inlineValue && t.rawName.length === 2 ? t.value?.replace(/^=/, '') : t.value;
        out.push({
          kind: 'flag',
          name: t.name,
          flag: t.rawName,
          arg,
          ...(type === 'string' ? { value } : {}),
        });
      }
    }
  }
  return out;
}

/** Writes and waits: main() exits the process shortly after a command returns. */
export function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

/**
 * The arguments of a local command by `parse`, or its exit code when there is nothing
 * to run: 0 after the usage on stdout (--help or -h anywhere), 2 after a usage error
 * ("<command>: <problem>" and the usage on stderr).
 */
export async function commandLine<T extends object>(
  command: string,
  usage: string,
  argv: string[],
  io: { stdout: Writable; stderr: Writable },
  parse: (argv: string[]) => T | string,
): Promise<T | number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    await write(io.stdout, usage);
    return 0;
  }
  const args = parse(argv);
  if (typeof args === 'string') {
    await write(io.stderr, `${command}: ${args}\n${usage}`);
    return 2;
  }
  return args;
}
