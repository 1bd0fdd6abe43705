// Jest globalSetup of the matrix project: the server binaries of every major in
// DBM_PG_MATRIX (default "13 18") and pg_dump/pg_restore 18, fetched once and
// cached outside the repository by scripts/postgres-versions.sh. Fails loudly
// when one cannot be fetched: the matrix never skips a major.
// jest loads a globalSetup with Node's own loader, which does not map .js imports to .ts: .ts below.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { debianBinDir } from '../lib/postgres.ts';

const SCRIPT = path.join(process.cwd(), 'scripts/postgres-versions.sh');

export const SUPPORTED_MAJORS = [13, 14, 15, 16, 17, 18];

/** The majors to test: DBM_PG_MATRIX ("13 18" by default), each one supported. */
export function matrixMajors(env: NodeJS.ProcessEnv = process.env): number[] {
  const raw = (env.DBM_PG_MATRIX ?? '').trim() || '13 18';
  const majors = raw.split(/[\s,]+/).map(Number);
  for (const m of majors)
    if (!SUPPORTED_MAJORS.includes(m))
      throw new Error(`DBM_PG_MATRIX: ${m} is not one of ${SUPPORTED_MAJORS.join(' ')} (got "${raw}")`);
  return [...new Set(majors)].sort((a, b) => a - b);
}

/** Runs scripts/postgres-versions.sh; returns the bin dir it prints and how long it took. */
export function fetchPostgres(args: string[]): { bin: string; ms: number } {
  const t0 = performance.now();
  const out = execFileSync('bash', [SCRIPT, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const bin = out.trim().split('\n').pop() ?? '';
  if (!existsSync(bin)) throw new Error(`postgres-versions.sh ${args.join(' ')} printed no bin dir: ${out}`);
  return { bin, ms: Math.round(performance.now() - t0) };
}

export interface MatrixSetup {
  majors: number[];
  servers: Record<string, { bin: string; fetchMs: number }>;
  client: { bin: string; fetchMs: number; version: string };
  hostClient: { bin: string; version: string };
}

/** "18.6 (Debian 18.6-3)" from `pg_dump --version`. */
function pgDumpVersion(bin: string): string {
  const out = execFileSync(path.join(bin, 'pg_dump'), ['--version'], { encoding: 'utf8' });
  return out.replace(/^pg_dump \(PostgreSQL\) /, '').trim();
}

export default async function matrixSetup(): Promise<void> {
  const majors = matrixMajors();
  const servers: MatrixSetup['servers'] = {};
  for (const m of majors) {
    const { bin, ms } = fetchPostgres(['server', String(m)]);
    servers[String(m)] = { bin, fetchMs: ms };
  }
  const client = fetchPostgres(['client']);
  // The newest Debian client tools on this machine (bookworm: 15), for the version guard tests.
  const hostClient = debianBinDir('pg_dump');
  const setup: MatrixSetup = {
    majors,
    servers,
    client: { bin: client.bin, fetchMs: client.ms, version: pgDumpVersion(client.bin) },
    hostClient: { bin: hostClient, version: pgDumpVersion(hostClient) },
  };
  process.env.DBM_MATRIX_SETUP = JSON.stringify(setup);
}
