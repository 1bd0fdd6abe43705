// Command-line parsing of `kubectl dbm`: kubectl's own conventions (-n, --context,
// --kubeconfig, -o, --flag=value, --flag value and -nvalue), split by node:util
// parseArgs (migrator-image/src/cli-args.ts).
import { jobSteps, type JobStep } from '../crds/job-result.js';
import { readArgs, type Flags } from '../migrator-image/src/cli-args.js';

export const commands = ['status', 'plan', 'approve', 'retry', 'rollback', 'logs', 'history'] as const;
export type Command = (typeof commands)[number];
export const outputs = ['table', 'json', 'yaml'] as const;
export type Output = (typeof outputs)[number];

export interface Invocation {
  command: Command;
  name?: string;
  namespace?: string;
  allNamespaces: boolean;
  context?: string;
  kubeconfig?: string;
  output: Output;
  yes: boolean;
  steps?: number;
  to?: string;
  step?: JobStep;
}

export type Parsed = { ok: true; invocation: Invocation } | { ok: false; help: boolean; error?: string };

export const USAGE = `Usage: kubectl dbm COMMAND [NAME] [flags]

Commands:
  status [NAME]                      phase, applied, blocking findings and age of DatabaseMigrations
  plan NAME                          the checked plan: pending migrations, findings, revert findings, shadow trace
  approve NAME [--yes]               show the plan, then set spec.safety.approval to its hash
  retry NAME                         start a new attempt of the same generation (dbmigrate.io/retry)
  rollback NAME --steps N | --to MIGRATION [--yes]
                                     revert the last N migrations, or those applied after MIGRATION
  logs NAME [--step STEP]            the log of the latest run's Job (of STEP: ${jobSteps.join(', ')})
  history NAME                       the runs of the resource and the migrations the last one applied

Flags:
  -n, --namespace NS                 namespace (default: the context's)
  -A, --all-namespaces               status only: every namespace
      --context NAME                 kubeconfig context
      --kubeconfig PATH              kubeconfig file (default: $KUBECONFIG or ~/.kube/config)
  -o, --output table|json|yaml       output format (default table)
  -y, --yes                          approve/rollback without asking (required when stdin is not a terminal)
`;

const NEEDS_NAME: ReadonlySet<Command> = new Set(['plan', 'approve', 'retry', 'rollback', 'logs', 'history']);

const FLAGS = {
  namespace: { type: 'string', short: 'n' },
  context: { type: 'string' },
  kubeconfig: { type: 'string' },
  output: { type: 'string', short: 'o' },
  steps: { type: 'string' },
  to: { type: 'string' },
  step: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  help: { type: 'boolean', short: 'h' },
} satisfies Flags;

export function parseArgs(argv: readonly string[]): Parsed {
  const values: Record<string, string> = {};
  const positional: string[] = [];
  let yes = false;
  let allNamespaces = false;
  for (const a of readArgs(argv, FLAGS)) {
    if (a.kind === 'flag' ? a.name === 'help' : a.arg === 'help') return { ok: false, help: true };
    // "-" and "--" are refused as flags: kubectl's conventions give them no meaning here.
    if (a.kind === 'unknown' || a.kind === 'end' || a.arg === '-') return fail(`unknown flag ${a.arg}`);
    if (a.kind === 'positional') positional.push(a.value);
    else if (a.name === 'yes') yes = true;
    else if (a.name === 'all-namespaces') allNamespaces = true;
    else if (!a.value) return fail(`${a.flag} needs a value`);
    else values[a.name] = a.value;
  }

  const [command, name, ...extra] = positional;
  if (!command) return { ok: false, help: true };
  if (!(commands as readonly string[]).includes(command)) return fail(`unknown command "${command}"`);
  const cmd = command as Command;
  if (extra.length) return fail(`unexpected argument "${extra[0]}"`);
  if (NEEDS_NAME.has(cmd) && !name) return fail(`${cmd} needs the name of a DatabaseMigration`);

  const output = values.output ?? 'table';
  if (!(outputs as readonly string[]).includes(output))
    return fail(`-o must be one of ${outputs.join(', ')}, not "${output}"`);
  if (allNamespaces && (cmd !== 'status' || name)) return fail('-A applies to status without a NAME only');

  const invocation: Invocation = { command: cmd, output: output as Output, yes, allNamespaces };
  if (name) invocation.name = name;
  for (const key of ['namespace', 'context', 'kubeconfig'] as const)
    if (values[key] !== undefined) invocation[key] = values[key];

  const onlyFor = (flag: string, owner: Command) =>
    values[flag] !== undefined && cmd !== owner ? `--${flag} applies to ${owner} only` : undefined;
  const misplaced = onlyFor('steps', 'rollback') ?? onlyFor('to', 'rollback') ?? onlyFor('step', 'logs');
  if (misplaced) return fail(misplaced);

  if (cmd === 'rollback') {
    if ((values.steps === undefined) === (values.to === undefined))
      return fail('rollback needs exactly one of --steps N and --to MIGRATION');
    if (values.steps !== undefined) {
      const n = Number(values.steps);
      if (!/^\d+$/.test(values.steps) || n < 1 || n > 1000)
        return fail(`--steps must be a whole number from 1 to 1000, not "${values.steps}"`);
      invocation.steps = n;
    }
    if (values.to !== undefined) invocation.to = values.to;
  }
  if (values.step !== undefined) {
    if (!(jobSteps as readonly string[]).includes(values.step))
      return fail(`--step must be one of ${jobSteps.join(', ')}, not "${values.step}"`);
    invocation.step = values.step as JobStep;
  }
  return { ok: true, invocation };
}

function fail(error: string): Parsed {
  return { ok: false, help: false, error };
}
