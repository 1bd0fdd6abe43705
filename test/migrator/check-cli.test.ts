// `migrator check --json` as an app's CI runs it (through the npm bin, no
// cluster): a local database URL, a shadow from local PostgreSQL binaries, one
// JSON object on stdout, exit 0 clean / 1 at --fail-on / 2 on a usage error.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateMigrations } from '../../bench/parts/generate-migrations.js';
import { appliedNames, createDatabase, migrationsDir, ROOT, runMigrator, tempDir } from './helpers.js';

const T = 240_000;
const BIN = path.join(ROOT, 'bin/migrator.js');

interface CliOut {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<CliOut> {
  // Only PATH: the database comes from --database-url, as in a CI job.
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function url(db: string): string {
  const { PGUSER, PGPASSWORD, PGHOST, PGPORT } = process.env;
  return `postgres://${encodeURIComponent(PGUSER!)}:${encodeURIComponent(PGPASSWORD!)}@${PGHOST}:${PGPORT}/${db}`;
}

interface CheckJson {
  ok: boolean;
  pending: string[];
  hash: string;
  checksums: Record<string, string>;
  findings: { rule: string; category: string; severity: string; message: string; migration: string }[];
  revertFindings: { rule: string; category: string }[];
  shadow: { reversibility: string; shadowMajor: number };
  summary: { failing: number };
}

const parse = (out: CliOut): CheckJson => {
  const lines = out.stdout.trim().split('\n');
  // stdout is the answer alone: one line of JSON, the log went to stderr.
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as CheckJson;
};

describe('migrator check --json (local CLI)', () => {
  it(
    'a first deploy is clean (exit 0); a destructive plan exits 1 with its findings; the database is untouched',
    async () => {
      const db = await createDatabase('cli');
      const clean = await cli([
        'check',
        '--json',
        '--database-url',
        url(db),
        '--migrations',
        migrationsDir('base'),
      ]);
      const first = parse(clean);
      expect({ code: clean.code, ok: first.ok }).toEqual({ code: 0, ok: true });
      expect(first.pending).toHaveLength(4);
      expect(Object.keys(first.checksums)).toEqual(first.pending);
      expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(first.shadow.reversibility).toBe('proven');
      expect(first.findings.filter((f) => f.severity === 'error')).toEqual([]);
      expect(await appliedNames(db)).toEqual([]);

      const base = migrationsDir('base');
      expect((await runMigrator('migrate', { PGDATABASE: db, MIGRATIONS_DIR: base })).code).toBe(0);
      const risky = await cli([
        'check',
        '--json',
        `--database-url=${url(db)}`,
        '--migrations',
        migrationsDir('base', 'destructive'),
        '--transaction-mode',
        'each',
      ]);
      const plan = parse(risky);
      expect(risky.code).toBe(1);
      expect(plan.pending).toEqual(['DropLegacyData1700000007000']);
      expect(plan.summary.failing).toBeGreaterThan(0);
      for (const f of plan.findings) {
        expect(f).toEqual(
          expect.objectContaining({
            rule: expect.any(String),
            category: expect.any(String),
            severity: expect.any(String),
            message: expect.any(String),
          }),
        );
      }
      expect(plan.findings.map((f) => f.category)).toEqual(
        expect.arrayContaining(['destructive', 'dataLoss']),
      );
      // --fail-on only counts; the same plan with its errors still fails at warning.
      expect(
        (
          await cli([
            'check',
            '--json',
            '--database-url',
            url(db),
            '--migrations',
            migrationsDir('base', 'destructive'),
            '--fail-on',
            'warning',
          ])
        ).code,
      ).toBe(1);
      // The check ran on a shadow: nothing applied, nothing dropped.
      expect(await appliedNames(db)).toHaveLength(4);
      for (const out of [clean, risky])
        expect(out.stdout + out.stderr).not.toContain(process.env.PGPASSWORD!);
    },
    T,
  );

  it(
    'a plan of 400 migrations comes back whole through the child process (its full result is far over a pipe buffer)',
    async () => {
      const db = await createDatabase('cli_long');
      const dir = generateMigrations(path.join(tempDir('long'), 'm'), 400, 5);
      const out = await cli(['check', '--json', '--database-url', url(db), '--migrations', dir]);
      const plan = parse(out);
      // The child's full result line is the plan: an exit before the pipe drained once cut it
      // at 146 KB, and the cut termination file read as "0 pending, ok".
      expect(out.stderr).toMatch(/"msg":"check finished"/);
      expect({ code: out.code, ok: plan.ok, pending: plan.pending.length }).toEqual({
        code: 0,
        ok: true,
        pending: 400,
      });
      expect(Object.keys(plan.checksums)).toHaveLength(400);
      expect(out.stdout.length).toBeGreaterThan(40_000);
      expect(await appliedNames(db)).toEqual([]);
    },
    T,
  );

  it(
    'a migration with transaction = false under mode "all" fails the check naming the setting, not the data',
    async () => {
      const db = await createDatabase('cli_mode');
      const dir = path.join(tempDir('mode'), 'm');
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
      writeFileSync(
        path.join(dir, '1800000000000-Plain.js'),
        'export class Plain1800000000000 { async up(q) { await q.query("CREATE TABLE plain (id int)"); } async down(q) { await q.query("DROP TABLE plain"); } }\n',
      );
      writeFileSync(
        path.join(dir, '1800000001000-Concurrent.js'),
        'export class Concurrent1800000001000 { transaction = false; async up(q) { await q.query("CREATE INDEX CONCURRENTLY plain_id ON plain (id)"); } async down(q) { await q.query("DROP INDEX plain_id"); } }\n',
      );
      const out = await cli(['check', '--json', '--database-url', url(db), '--migrations', dir]);
      const res = JSON.parse(out.stdout.trim()) as CheckJson & { error?: { message: string } };
      expect(out.code).toBe(1);
      expect(res.ok).toBe(false);
      expect(res.error?.message).toMatch(
        /spec\.migrations\.transactionMode is "all", but Concurrent1800000001000/,
      );
      expect(res.findings.map((f) => f.rule)).not.toContain('rehearsal-failed');
      // Mode "each" runs it.
      const each = await cli([
        'check',
        '--json',
        '--database-url',
        url(db),
        '--migrations',
        dir,
        '--transaction-mode',
        'each',
      ]);
      expect({ code: each.code, pending: parse(each).pending }).toEqual({
        code: 0,
        pending: ['Plain1800000000000', 'Concurrent1800000001000'],
      });
    },
    T,
  );

  it('usage errors exit 2 and say what is wrong', async () => {
    const bad = await cli(['check', '--json', '--fail-on', 'fatal']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--fail-on needs one of info|warning|error');
    const unknown = await cli(['check', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option --bogus');
    const noDir = await cli(['check', '--json', '--database-url', 'postgres://u@127.0.0.1:1/x']);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('--migrations (or MIGRATIONS_DIR) is required');
  });
});
