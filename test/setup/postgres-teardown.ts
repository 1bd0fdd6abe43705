// Jest globalTeardown of the migrator project: stops the throwaway PostgreSQL
// and removes its directory.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const STATE_FILE = path.join(tmpdir(), `dbmigrate-migrator-tests-pg-${process.pid}.json`);

export default async function postgresTeardown(): Promise<void> {
  if (!existsSync(STATE_FILE)) return;
  const st = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as {
    dir: string;
    data: string;
    pid: number;
    bin: string;
    asRoot: boolean;
  };
  const args = ['-D', st.data, '-m', 'fast', '-w', 'stop'];
  const r = st.asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', path.join(st.bin, 'pg_ctl'), ...args], {
        encoding: 'utf8',
      })
    : spawnSync(path.join(st.bin, 'pg_ctl'), args, { encoding: 'utf8' });
  if (r.status !== 0) {
    try {
      process.kill(st.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  rmSync(st.dir, { recursive: true, force: true });
  rmSync(STATE_FILE, { force: true });
}
