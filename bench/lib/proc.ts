// Child processes for the bench: timed runs that fail loudly with the tail of
// their output (a bench that silently measures a failure is worse than none).
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Timed {
  ms: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: SpawnSyncOptions & { env?: NodeJS.ProcessEnv; okCodes?: number[] } = {},
): Timed {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...opts,
    env: { ...process.env, ...opts.env },
  });
  const ms = performance.now() - t0;
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.status === null || !(opts.okCodes ?? [0]).includes(r.status))
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${stderr.slice(-2000)} ${stdout.slice(-1000)}`,
    );
  return { ms, stdout, stderr };
}

export function timedMs(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  return run(cmd, args, { env }).ms;
}

/** Async variant, for parts that must keep sampling while the child runs. */
export function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ms = performance.now() - t0;
      if (code !== 0)
        reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}): ${stderr.slice(-2000)}`));
      else resolve({ ms, stdout, stderr });
    });
  });
}

/** Resident memory of a live process, in MiB, from /proc/<pid>/status (VmRSS). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
