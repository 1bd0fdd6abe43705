// migrator check --json [--database-url URL] [--migrations DIR] [--fail-on SEVERITY]
//                       [--transaction-mode all|each|none] [--shadow-bin DIR]
//                       [--compatibility-query SQL]...
// The operator's check in an app's own CI: against a local database (URL or the
// PG* variables), with a shadow started from local PostgreSQL binaries. Not a
// Job step: it prints one JSON object (or text) and writes no JobResult. Exit 0
// when clean, 1 when a finding reaches --fail-on (default error) or the check
// could not finish (the JSON says why), 2 on a usage error.
import type { Writable } from 'node:stream';
import type { Finding, JobResult } from '../../../crds/job-result.js';
import { commandLine, readArgs, write, type Flags } from '../cli-args.js';
import { loadConfig } from '../config.js';
import { logToStderr } from '../log.js';
import { toResultError } from '../result.js';
import { registerSecret, scrub } from '../scrub.js';
import { check } from './check.js';

const SEVERITIES = ['info', 'warning', 'error'] as const;
type Severity = (typeof SEVERITIES)[number];

export const CHECK_USAGE =
  'usage: migrator check --json|--text [--database-url URL] [--migrations DIR] [--fail-on info|warning|error]\n' +
  '                      [--transaction-mode all|each|none] [--shadow-bin DIR] [--compatibility-query SQL]...\n' +
  '  runs the pending migrations of DIR (default $MIGRATIONS_DIR) on a shadow copy of the database\n' +
  "  (URL, default the PG* variables); the database itself gets only a schema dump's locks\n";

interface Args {
  json: boolean;
  failOn: Severity;
  env: Record<string, string>;
  compatibility: string[];
}

/** PG* variables from a postgres:// URL; the password is registered so no output repeats it. */
function urlEnv(raw: string): Record<string, string> | string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return '--database-url is not a URL (postgres://user:password@host:port/database)';
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    return `--database-url must be postgres:// or postgresql://, not ${u.protocol}//`;
  const env: Record<string, string> = {};
  if (u.hostname) env.PGHOST = decodeURIComponent(u.hostname);
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) {
    env.PGPASSWORD = decodeURIComponent(u.password);
    registerSecret(env.PGPASSWORD);
  }
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (db) env.PGDATABASE = db;
  const ssl = u.searchParams.get('sslmode');
  if (ssl) env.PGSSLMODE = ssl;
  return env;
}

const FLAGS = {
  json: { type: 'boolean' },
  text: { type: 'boolean' },
  'fail-on': { type: 'string' },
  'database-url': { type: 'string' },
  migrations: { type: 'string' },
  'transaction-mode': { type: 'string' },
  'shadow-bin': { type: 'string' },
  'compatibility-query': { type: 'string' },
} satisfies Flags;

function parseArgs(argv: string[]): Args | string {
  const args: Args = { json: true, failOn: 'error', env: {}, compatibility: [] };
  for (const a of readArgs(argv, FLAGS)) {
    if (a.kind !== 'flag') return `unknown option ${a.arg}`;
    const v = a.value;
    if (a.name === 'json') args.json = true;
    else if (a.name === 'text') args.json = false;
    else if (a.name === 'fail-on') {
      if (!SEVERITIES.includes(v as Severity)) return `--fail-on needs one of ${SEVERITIES.join('|')}`;
      args.failOn = v as Severity;
    } else if (a.name === 'database-url') {
      const env = urlEnv(v ?? '');
      if (typeof env === 'string') return env;
      Object.assign(args.env, env);
    } else if (a.name === 'migrations') {
      if (!v) return '--migrations needs a directory';
      args.env.MIGRATIONS_DIR = v;
    } else if (a.name === 'transaction-mode') {
      if (v !== 'all' && v !== 'each' && v !== 'none') return '--transaction-mode needs all, each or none';
      args.env.TRANSACTION_MODE = v;
    } else if (a.name === 'shadow-bin') {
      if (!v) return '--shadow-bin needs the directory of initdb and postgres';
      args.env.SHADOW_PG_BIN_DIR = v;
    } else {
      if (!v) return '--compatibility-query needs SQL';
      args.compatibility.push(v);
    }
  }
  return args;
}

interface CheckIo {
  stdout: Writable;
  stderr: Writable;
}

/** What the check printed in its "check finished" line is the full plan; the JobResult may be cut, this is not. */
export async function checkCli(argv: string[], io: CheckIo = process): Promise<number> {
  const args = await commandLine('migrator check', CHECK_USAGE, argv, io, parseArgs);
  if (typeof args === 'number') return args;
  // stdout carries only the answer; the migrator's own log lines go to stderr.
  logToStderr();
  const env: NodeJS.ProcessEnv = { ...process.env, ...args.env };
  if (args.compatibility.length > 0) env.COMPATIBILITY_QUERIES = JSON.stringify(args.compatibility);
  if (!env.MIGRATIONS_DIR) {
    await write(io.stderr, `migrator check: --migrations (or MIGRATIONS_DIR) is required\n${CHECK_USAGE}`);
    return 2;
  }
  let cfg;
  try {
    cfg = loadConfig(env);
    // The check's child process (the one running migration code) takes its settings from the
    // environment, minus every connection to the target (shadow/child.ts).
    Object.assign(process.env, env);
  } catch (err) {
    await write(io.stderr, `migrator check: ${scrub((err as Error).message)}\n${CHECK_USAGE}`);
    return 2;
  }
  const res: JobResult = { step: 'check', ok: false, startedAt: new Date().toISOString(), finishedAt: '' };
  // check() stops its shadow server and closes its sessions itself, on success or not.
  try {
    await check(cfg, res);
    res.ok = true;
  } catch (err) {
    res.error = toResultError(err);
  }
  const plan = res.plan;
  const findings: Finding[] = plan?.findings ?? [];
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  const failing = findings.filter((f) => rank(f.severity) >= rank(args.failOn)).length;
  const out = {
    ok: res.ok,
    ...(res.error ? { error: res.error } : {}),
    pending: plan?.pending ?? [],
    hash: plan?.hash,
    checksums: plan?.checksums ?? {},
    findings,
    revertFindings: plan?.revertFindings ?? [],
    ignored: plan?.ignored ?? [],
    notCaptured: plan?.notCaptured ?? [],
    shadow: plan?.shadow,
    summary: { findings: findings.length, failOn: args.failOn, failing },
  };
  if (args.json) await write(io.stdout, scrub(JSON.stringify(out)) + '\n');
  else {
    const lines = findings.map(
      (f) =>
        `${f.migration}: ${f.severity} ${f.rule} [${f.category}] ${f.message}${f.hint ? `\n    safe: ${f.hint}` : ''}`,
    );
    for (const f of out.revertFindings)
      lines.push(`${f.migration}: (revert) ${f.severity} ${f.rule} ${f.message}`);
    if (res.error) lines.push(`check failed: ${res.error.message}`);
    lines.push(
      `${out.pending.length} pending, ${findings.length} finding(s), ${failing} at or above ${args.failOn}; plan ${out.hash ?? '-'}`,
    );
    await write(io.stdout, scrub(lines.join('\n')) + '\n');
  }
  return res.error || failing > 0 ? 1 : 0;
}
