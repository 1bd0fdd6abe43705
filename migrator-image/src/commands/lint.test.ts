import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { lint } from './lint.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

async function run(argv: string[], stdin = '') {
  const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
  let out = '';
  let err = '';
  io.stdout.on('data', (c: Buffer) => (out += c.toString()));
  io.stderr.on('data', (c: Buffer) => (err += c.toString()));
  io.stdin.end(stdin);
  const code = await lint(argv, io);
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'lint-cli-'));
const file = (name: string, sql: string) => {
  const p = join(dir, name);
  writeFileSync(p, sql);
  return p;
};

describe('migrator lint', () => {
  it('prints one JSON object and exits 1 on an error finding (default --fail-on error)', async () => {
    const r = await run(['--json'], 'SELECT 1;\nALTER TABLE users DROP COLUMN email;\n');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as {
      findings: Array<Record<string, unknown>>;
      summary: Record<string, unknown>;
    };
    expect(doc.findings).toEqual([
      expect.objectContaining({
        rule: 'drop-column',
        category: 'destructive',
        categories: ['destructive', 'dataLoss', 'backwardIncompatible'],
        severity: 'error',
        message: 'DROP COLUMN users.email',
        file: '<stdin>',
        line: 2,
        hint: expect.any(String),
      }),
    ]);
    expect(doc.summary).toMatchObject({ files: 1, error: 1, failing: 1 });
  });

  it('exits 0 when nothing reaches --fail-on, 1 when lowered to it', async () => {
    const sql = 'CREATE INDEX i ON orders (created_at);';
    expect((await run([], sql)).code).toBe(0);
    const warn = await run(['--fail-on', 'warning'], sql);
    expect(warn.code).toBe(1);
    expect(warn.out).toContain('<stdin>:1: warning create-index-not-concurrently [locking]');
    expect(warn.out).toContain('safe: CREATE INDEX CONCURRENTLY');
    expect((await run(['--fail-on=info'], 'CREATE TABLE t (id bigint);')).code).toBe(0);
  });

  it('treats files as one plan in order: a table created in the first is exempt in the second', async () => {
    const a = file('1.sql', 'CREATE TABLE orders (id bigint);');
    const b = file('2.sql', 'CREATE INDEX o ON orders (id);\nCREATE INDEX u ON users (id);');
    const r = await run(['--json', '--fail-on', 'warning', a, b]);
    const doc = JSON.parse(r.out) as { findings: Array<{ file: string; message: string; line: number }> };
    expect(doc.findings.map((f) => [f.file, f.line, f.message])).toEqual([
      [b, 2, 'CREATE INDEX u on users without CONCURRENTLY blocks writes'],
    ]);
    expect(r.code).toBe(1);
  });

  it('reports ignored rules and unparseable SQL', async () => {
    const r = await run(['--json'], '-- dbmigrate:ignore truncate\nTRUNCATE audit;');
    expect(JSON.parse(r.out)).toMatchObject({ findings: [], ignored: [{ rule: 'truncate', count: 1 }] });
    expect(r.code).toBe(0);
    const bad = await run(['--json', '--fail-on', 'warning'], 'ALTER TABEL x;');
    expect(JSON.parse(bad.out).findings[0]).toMatchObject({ rule: 'unparseable-sql', severity: 'warning' });
    expect(bad.code).toBe(1);
  });

  it('exits 2 on usage errors and unreadable files', async () => {
    expect((await run(['--fail-on', 'fatal'])).code).toBe(2);
    expect((await run(['--nope'])).code).toBe(2);
    const missing = await run([join(dir, 'missing.sql')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('cannot read');
  });

  it('runs as a process: main.ts lint --json with stdin, and the dbmigrate-lint bin shim', () => {
    const viaMain = spawnSync(
      join(root, 'node_modules/.bin/tsx'),
      ['migrator-image/src/main.ts', 'lint', '--json'],
      {
        cwd: root,
        input: 'TRUNCATE sessions;',
        encoding: 'utf8',
      },
    );
    expect(viaMain.status).toBe(1);
    expect(JSON.parse(viaMain.stdout).findings[0]).toMatchObject({ rule: 'truncate', file: '<stdin>' });
    const viaBin = spawnSync(process.execPath, ['bin/dbmigrate-lint.js', file('ok.sql', 'SELECT 1;')], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(viaBin.stderr).toBe('');
    expect(viaBin.status).toBe(0);
    expect(viaBin.stdout).toContain('0 finding(s)');
  });
});
