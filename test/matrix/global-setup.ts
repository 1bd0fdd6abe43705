// Jest globalSetup of the matrix project: the server binaries of every major in
// DBM_PG_MATRIX (default "13 18") and pg_dump/pg_restore 18, fetched once and
// cached outside the repository by scripts/postgres-versions.sh. Fails loudly
// when one cannot be fetched: the matrix never skips a major.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fetchPostgres, hostClientBin, matrixMajors } from './postgres.js';

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
  const setup: MatrixSetup = {
    majors,
    servers,
    client: { bin: client.bin, fetchMs: client.ms, version: pgDumpVersion(client.bin) },
    hostClient: { bin: hostClientBin(), version: pgDumpVersion(hostClientBin()) },
  };
  process.env.DBM_MATRIX_SETUP = JSON.stringify(setup);
}
