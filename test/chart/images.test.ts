// The project's images build from its Dockerfiles exactly as a user builds
// them: `buildah bud -f Dockerfile .` and `buildah bud -f migrator-image/Dockerfile .`
// from the repository root, nothing staged. The only additions are the local
// base (--build-arg BASE_IMAGE, made from Debian's packages by
// images/build-base.sh, since no image registry is reachable here), --pull=never,
// PG_APT_SOURCE=debian for the migrator (PostgreSQL 18 from Debian forky instead
// of the PostgreSQL apt repository) and, where this machine has an extra CA
// bundle, its mounts for npm (images/lib.sh). Then the images run: Node 24,
// PostgreSQL 18's client and server binaries, the entry points.
// Needs root and buildah (scripts/install-system-deps.sh); fails without them.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './tools.js';

jest.setTimeout(45 * 60_000);

const TAG = 'static-test';
const OPERATOR = `localhost/dbm/database-migration-operator:${TAG}`;
const MIGRATOR = `localhost/dbm/database-migration-migrator:${TAG}`;

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bash script with images/lib.sh sourced (bah = buildah with the project's storage driver). */
function withLib(script: string, timeoutMs = 40 * 60_000): Out {
  const r = spawnSync('bash', ['-c', `set -euo pipefail; source images/lib.sh; ${script}`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(script: string, what: string): string {
  const r = withLib(script);
  if (r.status !== 0) {
    throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-8000)}`);
  }
  return r.stdout;
}

/** `buildah bud` from the repository root. */
function bud(dockerfile: string, image: string, buildArgs: string[]): void {
  const args = buildArgs.map((a) => `--build-arg ${a}`).join(' ');
  ok(
    `bud_trust_mounts "$PWD/.tmp/images-test"
     bah bud --pull=never --layers "\${BUD_MOUNTS[@]}" ${args} -f ${dockerfile} -t ${image} .`,
    `buildah bud -f ${dockerfile} .`,
  );
}

/**
 * Runs a command in a container of the image, as the image's user; returns its
 * exit code and output. `files`: host paths copied to /tmp first (mode 0755).
 */
function runIn(image: string, cmd: string[], files: string[] = []): Out {
  const quoted = cmd.map((c) => `'${c.replace(/'/g, `'\\''`)}'`).join(' ');
  const copies = files.map((f) => `bah copy --chmod 0755 "$c" '${f}' /tmp/ >/dev/null`).join('\n');
  return withLib(
    `c="$(bah from --pull-never --quiet ${image})"
     trap 'bah rm "$c" >/dev/null' EXIT
     ${copies}
     set +e; bah run "$c" -- ${quoted}; s=$?; set -e
     echo "exit=$s" >&2`,
    5 * 60_000,
  );
}
const exitOf = (o: Out): number => Number(/exit=(\d+)\s*$/.exec(o.stderr)?.[1] ?? -1);

let nodeBase = '';
let forkyBase = '';

beforeAll(() => {
  const which = spawnSync('bash', ['-c', 'command -v buildah'], { encoding: 'utf8' });
  if (which.status !== 0) {
    throw new Error('buildah is missing: run scripts/install-system-deps.sh (these tests build for real)');
  }
  // Idempotent and cached: makes the bases from Debian's packages when absent.
  ok('bash images/build-base.sh', 'images/build-base.sh');
  [nodeBase = '', forkyBase = ''] = ok(
    'printf "%s\\n%s\\n" "$DBM_NODE_IMAGE" "$DBM_NODE_FORKY_IMAGE"',
    'reading the base names',
  )
    .trim()
    .split('\n');
});

describe('the operator image (Dockerfile)', () => {
  beforeAll(() => bud('Dockerfile', OPERATOR, [`BASE_IMAGE=${nodeBase}`]));

  it('runs Node 24', () => {
    const r = runIn(OPERATOR, ['node', '--version']);
    expect(exitOf(r)).toBe(0);
    expect(r.stdout.trim()).toMatch(/^v24\./);
  });

  it('runs as a non-root user', () => {
    // The image holds Node and what it links, no shell or coreutils: Node says.
    const r = runIn(OPERATOR, ['node', '-p', 'process.getuid()']);
    expect(exitOf(r)).toBe(0);
    expect(r.stdout.trim()).toBe('10001');
  });

  it('has its entry point, which loads every module it imports', () => {
    // Without the Deployment's environment the operator stops at its config
    // check (exit 2), which it reaches only after the whole module graph loaded.
    const r = runIn(OPERATOR, ['node', '/opt/operator/dist/operator/main.js']);
    expect(`${r.stdout}${r.stderr}`).not.toContain('ERR_MODULE_NOT_FOUND');
    expect(r.stdout).toContain('MIGRATOR_IMAGE is required');
    expect(exitOf(r)).toBe(2);
  });
});

describe('the migrator image (migrator-image/Dockerfile)', () => {
  beforeAll(() =>
    bud('migrator-image/Dockerfile', MIGRATOR, [`BASE_IMAGE=${forkyBase}`, 'PG_APT_SOURCE=debian']),
  );

  it('runs Node 24', () => {
    const r = runIn(MIGRATOR, ['node', '--version']);
    expect(exitOf(r)).toBe(0);
    expect(r.stdout.trim()).toMatch(/^v24\./);
  });

  it.each(['pg_dump', 'pg_restore', 'initdb', 'pg_ctl', 'postgres'])('carries PostgreSQL 18 %s', (tool) => {
    const r = runIn(MIGRATOR, [tool, '--version']);
    expect(exitOf(r)).toBe(0);
    expect(r.stdout).toMatch(/\(PostgreSQL\) 18\.\d+/);
  });

  it('carries the static copier the Jobs stage into the app image (test/e2e/distroless.test.ts runs it in FROM scratch)', () => {
    const r = runIn(MIGRATOR, ['/bin/busybox', '--list']);
    expect(exitOf(r)).toBe(0);
    expect(r.stdout.split('\n')).toContain('cp');
  });

  it("carries the shadow server's data directory template (PostgreSQL 18, 0700, the runtime user's)", () => {
    const r = runIn(MIGRATOR, [
      'sh',
      '-c',
      'cat "$SHADOW_TEMPLATE_DIR/PG_VERSION" && stat -c %a:%u "$SHADOW_TEMPLATE_DIR" && id -u',
    ]);
    expect(exitOf(r)).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['18', '700:10001', '10001']);
  });

  it('runs check, backup, migrate and verify against a PostgreSQL 18 with contrib extensions, with its own files only', () => {
    const r = runIn(MIGRATOR, ['sh', '/tmp/migrator-smoke.sh'], ['test/fixtures/images/migrator-smoke.sh']);
    expect(`exit=${exitOf(r)} ${r.stderr.slice(-3000)}`).toMatch(/^exit=0 /);
    expect(r.stdout.trim().split('\n')).toEqual([
      'check exit=0',
      'backup exit=0',
      'migrate exit=0',
      'verify exit=0',
      'h,id,name,note',
    ]);
  });

  it('prints its usage and exits 2 without a command', () => {
    const r = runIn(MIGRATOR, ['node', '/opt/migrator/dist/migrator-image/src/main.js']);
    expect(exitOf(r)).toBe(2);
    expect(r.stderr).toMatch(/usage: migrator <[a-z|]*\bbackup\b[a-z|]*>/);
    expect(r.stderr).toMatch(/usage: migrator <[a-z|]*\bmigrate\b[a-z|]*>/);
  });
});
