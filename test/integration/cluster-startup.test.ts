// The local control plane's start-up cannot race: a second control plane (own
// state directory and ports, beside the suite's) is brought up and down several
// times while both cores are kept busy, and every attempt must be healthy.
// Also: a taken port names the variable that moves it, and a daemon that dies
// at start prints its last log lines.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = process.cwd();
const UP = path.join(ROOT, 'test/cluster/up.sh');
const DOWN = path.join(ROOT, 'test/cluster/down.sh');

async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    servers.push(srv);
    ports.push((srv.address() as { port: number }).port);
  }
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

interface Run {
  status: number | null;
  stderr: string;
  seconds: number;
}

function runScript(script: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [script, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    child.on('close', (status) => resolve({ status, stderr, seconds: (Date.now() - t0) / 1000 }));
  });
}

/** One busy loop per core, in separate processes, until stopped. */
function loadCpus(): ChildProcess[] {
  return cpus().map(() => spawn('bash', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
}

describe('local control plane start-up', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'dbm-second-cluster-'));
  let env: NodeJS.ProcessEnv = {};
  let load: ChildProcess[] = [];

  beforeAll(async () => {
    const [etcd, peer, api, kcm, sched] = await freePorts(5);
    env = {
      DBM_CLUSTER_STATE: path.join(stateDir, 'cluster'),
      DBM_ETCD_PORT: String(etcd),
      DBM_ETCD_PEER_PORT: String(peer),
      DBM_APISERVER_PORT: String(api),
      DBM_KCM_PORT: String(kcm),
      DBM_SCHEDULER_PORT: String(sched),
    };
  });

  afterAll(async () => {
    for (const p of load) p.kill('SIGKILL');
    await runScript(DOWN, env);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('comes up healthy three times in a row while every core is busy', async () => {
    load = loadCpus();
    const attempts: Run[] = [];
    for (let i = 0; i < 3; i++) {
      const up = await runScript(UP, env);
      attempts.push(up);
      expect({ attempt: i, status: up.status, stderr: up.status === 0 ? '' : up.stderr }).toEqual({
        attempt: i,
        status: 0,
        stderr: '',
      });
      // Every component is recorded by a pid that runs its own binary.
      for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
        const pids = path.join(env.DBM_CLUSTER_STATE as string, 'pids');
        const pid = readFileSync(path.join(pids, `${c}.pid`), 'utf8').trim();
        const bin = readFileSync(path.join(pids, `${c}.bin`), 'utf8').trim();
        expect(
          spawnSync('readlink', [`/proc/${pid}/exe`])
            .stdout.toString()
            .trim(),
        ).toBe(bin);
      }
      const down = await runScript(DOWN, env);
      expect(down.status).toBe(0);
    }
    for (const p of load) p.kill('SIGKILL');
    load = [];
    process.stdout.write(
      `second control plane under load: up in ${attempts.map((a) => a.seconds.toFixed(1)).join(', ')} s\n`,
    );
  });

  it('names the port and the variable that moves it when a port is taken', async () => {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const taken = (srv.address() as { port: number }).port;
    try {
      const up = await runScript(UP, { ...env, DBM_APISERVER_PORT: String(taken) });
      expect(up.status).not.toBe(0);
      expect(up.stderr).toContain(`127.0.0.1:${taken}`);
      expect(up.stderr).toContain('DBM_APISERVER_PORT=');
    } finally {
      await new Promise((resolve) => srv.close(resolve));
    }
  });

  it('a daemon that dies at start fails its start and prints its last log lines', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbm-daemon-'));
    try {
      const bin = path.join(dir, 'crashy');
      writeFileSync(bin, '#!/bin/sh\necho "listen: address already in use (from crashy)"\nexit 3\n');
      chmodSync(bin, 0o755);
      const script = `source scripts/lib/daemon.sh; dbm_daemon_start "${dir}/crashy.pid" "${dir}/crashy.log" "${bin}"`;
      const r = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('crashy exited at start');
      expect(r.stderr).toContain('address already in use (from crashy)');

      const sleeper = `source scripts/lib/daemon.sh; dbm_daemon_start "${dir}/s.pid" "${dir}/s.log" /bin/sleep 30 && dbm_daemon_alive "${dir}/s.pid" /bin/sleep && dbm_daemon_stop "${dir}/s.pid" /bin/sleep && ! dbm_daemon_alive "${dir}/s.pid" /bin/sleep`;
      expect(spawnSync('bash', ['-c', sleeper], { cwd: ROOT, encoding: 'utf8' }).status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
