// Runs pg_dump / pg_restore as children: the password reaches them only
// through PGPASSWORD in the child's environment, never on a command line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from './config.js';
import { APP_NAME } from './db.js';
import { MigratorError } from './result.js';
import { scrub } from './scrub.js';
import { trackChild } from './shutdown.js';

export function toolPath(cfg: Config, tool: string): string {
  return cfg.PG_BIN_DIR ? join(cfg.PG_BIN_DIR, tool) : tool;
}

export function childEnv(cfg: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    PGHOST: cfg.PGHOST,
    PGPORT: String(cfg.PGPORT),
    PGDATABASE: cfg.PGDATABASE,
    PGUSER: cfg.PGUSER,
    PGSSLMODE: cfg.PGSSLMODE === 'no-verify' ? 'require' : cfg.PGSSLMODE,
    PGCONNECT_TIMEOUT: String(cfg.PGCONNECT_TIMEOUT),
    PGAPPNAME: APP_NAME,
  };
  if (cfg.PGPASSWORD) env.PGPASSWORD = cfg.PGPASSWORD;
  for (const k of ['PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'LANG', 'LC_ALL', 'TZ'])
    if (process.env[k]) env[k] = process.env[k];
  return env;
}

export interface ToolRun {
  stdout: string;
  stderr: string;
  ms: number;
}

export function runTool(cfg: Config, tool: string, args: string[]): Promise<ToolRun> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(toolPath(cfg, tool), args, { env: childEnv(cfg), stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new MigratorError(`cannot run ${tool}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = scrub(Buffer.concat(err).toString('utf8'));
      if (code === 0) return resolve({ stdout, stderr, ms: performance.now() - t0 });
      const lines = stderr
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      const errLine =
        lines.find((l) => /error:/i.test(l)) ?? lines[lines.length - 1] ?? `exit ${code ?? signal}`;
      reject(new MigratorError(`${tool} failed: ${errLine.replace(/^(pg_dump|pg_restore): /, '')}`));
    });
  });
}
