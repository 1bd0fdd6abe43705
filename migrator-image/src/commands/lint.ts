// migrator lint [--json] [--fail-on info|warning|error] [--require-lock-timeout] [FILE...]
// Lints plain SQL files (or stdin) without a database: unknown tables count as
// existing and large, files are one plan in the order given. Not a Job step:
// it writes no JobResult. Exit 0 clean, 1 when a finding reaches --fail-on,
// 2 on a usage error or an unreadable file.
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { commandLine, readArgs, write, type Flags } from '../cli-args.js';
import { lintMigration, newLintContext, type LintFinding } from '../lint/index.js';

const SEVERITIES = ['info', 'warning', 'error'] as const;
type Severity = (typeof SEVERITIES)[number];

export const LINT_USAGE =
  'usage: migrator lint [--json] [--fail-on info|warning|error] [--require-lock-timeout] [FILE...]\n' +
  '  reads each FILE (or stdin when none, or for "-") as plain SQL; one plan in the order given\n';

export interface LintIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

interface Args {
  json: boolean;
  failOn: Severity;
  requireLockTimeout: boolean;
  files: string[];
}

/** One CLI finding: the engine's per-category findings of one hazard folded into one entry. */
export interface CliFinding {
  rule: string;
  category: string;
  categories?: string[];
  severity: Severity;
  message: string;
  hint?: string;
  file: string;
  line?: number;
  statement?: number;
}

const FLAGS = {
  json: { type: 'boolean' },
  'require-lock-timeout': { type: 'boolean' },
  'fail-on': { type: 'string' },
} satisfies Flags;

function parseArgs(argv: string[]): Args | string {
  const args: Args = { json: false, failOn: 'error', requireLockTimeout: false, files: [] };
  for (const a of readArgs(argv, FLAGS)) {
    // After --, parseArgs returns every argument as a positional: a file.
    if (a.kind === 'positional') args.files.push(a.value);
    else if (a.kind === 'unknown') return `unknown option ${a.arg}`;
    else if (a.kind === 'end') continue;
    else if (a.name === 'json') args.json = true;
    else if (a.name === 'require-lock-timeout') args.requireLockTimeout = true;
    else {
      if (!SEVERITIES.includes(a.value as Severity)) return `--fail-on needs one of ${SEVERITIES.join('|')}`;
      args.failOn = a.value as Severity;
    }
  }
  return args;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function fold(file: string, findings: LintFinding[]): CliFinding[] {
  const out: CliFinding[] = [];
  for (const f of findings) {
    const prev = out[out.length - 1];
    if (prev && prev.rule === f.rule && prev.statement === f.statement && prev.message === f.message) {
      prev.categories = [...(prev.categories ?? [prev.category]), f.category];
      continue;
    }
    out.push({
      rule: f.rule,
      category: f.category,
      severity: f.severity,
      message: f.message,
      ...(f.hint ? { hint: f.hint } : {}),
      file,
      ...(f.line !== undefined ? { line: f.line } : {}),
      ...(f.statement !== undefined ? { statement: f.statement } : {}),
    });
  }
  return out;
}

export async function lint(argv: string[], io: LintIo = process): Promise<number> {
  const args = await commandLine('migrator lint', LINT_USAGE, argv, io, parseArgs);
  if (typeof args === 'number') return args;
  const files = args.files.length > 0 ? args.files : ['-'];
  if (files.filter((f) => f === '-').length > 1) {
    await write(io.stderr, `migrator lint: stdin ("-") can be read only once\n`);
    return 2;
  }
  const sources: Array<{ file: string; sql: string }> = [];
  for (const file of files) {
    try {
      sources.push({
        file: file === '-' ? '<stdin>' : file,
        sql: file === '-' ? await readAll(io.stdin) : readFileSync(file, 'utf8'),
      });
    } catch (err) {
      await write(io.stderr, `migrator lint: cannot read ${file}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const ctx = newLintContext(undefined, { requireLockTimeout: args.requireLockTimeout });
  const findings: CliFinding[] = [];
  const ignored: Array<{ file: string; rule: string; count: number }> = [];
  for (const { file, sql } of sources) {
    const r = await lintMigration(file, [sql], ctx);
    findings.push(...fold(file, r.findings));
    ignored.push(...r.ignored.map((i) => ({ file, ...i })));
  }
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  const failing = findings.filter((f) => rank(f.severity) >= rank(args.failOn)).length;
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const summary = {
    files: sources.length,
    findings: findings.length,
    error: count('error'),
    warning: count('warning'),
    info: count('info'),
    failOn: args.failOn,
    failing,
  };
  if (args.json) {
    await write(io.stdout, JSON.stringify({ findings, ignored, summary }) + '\n');
  } else {
    const lines = findings.map(
      (f) =>
        `${f.file}${f.line ? `:${f.line}` : ''}: ${f.severity} ${f.rule} [${(f.categories ?? [f.category]).join(', ')}] ${f.message}` +
        (f.hint ? `\n    safe: ${f.hint}` : ''),
    );
    for (const i of ignored)
      lines.push(`${i.file}: ignored ${i.rule} (${i.count} finding(s)) by dbmigrate:ignore`);
    lines.push(
      `${findings.length} finding(s): ${summary.error} error, ${summary.warning} warning, ${summary.info} info; ${failing} at or above ${args.failOn}`,
    );
    await write(io.stdout, lines.join('\n') + '\n');
  }
  return failing > 0 ? 1 : 0;
}
