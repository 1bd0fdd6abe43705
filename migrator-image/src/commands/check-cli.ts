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

function parseArgs(argv: string[]): Args | string {
  const args: Args = { json: true, failOn: 'error', env: {}, compatibility: [] };
  const value = (i: number, flag: string): string | undefined => {
    const a = argv[i] as string;
    return a.startsWith(`${flag}=`) ? a.slice(flag.length + 1) : argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const flag = a.split('=')[0] as string;
    const inline = a.includes('=');
    const take = (): string | undefined => {
      const v = value(i, flag);
      if (!inline) i++;
      return v;
    };
    if (a === '--json') args.json = true;
    else if (a === '--text') args.json = false;
    else if (flag === '--fail-on') {
      const v = take();
      if (!SEVERITIES.includes(v as Severity)) return `--fail-on needs one of ${SEVERITIES.join('|')}`;
      args.failOn = v as Severity;
    } else if (flag === '--database-url') {
      const env = urlEnv(take() ?? '');
      if (typeof env === 'string') return env;
      Object.assign(args.env, env);
    } else if (flag === '--migrations') {
      const v = take();
      if (!v) return '--migrations needs a directory';
      args.env.MIGRATIONS_DIR = v;
    } else if (flag === '--transaction-mode') {
      const v = take();
      if (v !== 'all' && v !== 'each' && v !== 'none') return '--transaction-mode needs all, each or none';
      args.env.TRANSACTION_MODE = v;
    } else if (flag === '--shadow-bin') {
      const v = take();
      if (!v) return '--shadow-bin needs the directory of initdb and postgres';
      args.env.SHADOW_PG_BIN_DIR = v;
    } else if (flag === '--compatibility-query') {
      const v = take();
      if (!v) return '--compatibility-query needs SQL';
      args.compatibility.push(v);
    } else return `unknown option ${a}`;
  }
  return args;
}

function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

interface CheckIo {
  stdout: Writable;
  stderr: Writable;
}

/** What the check printed in its "check finished" line is the full plan; the JobResult may be cut, this is not. */
export async function checkCli(argv: string[], io: CheckIo = process): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    await write(io.stdout, CHECK_USAGE);
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    await write(io.stderr, `migrator check: ${args}\n${CHECK_USAGE}`);
    return 2;
  }
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
