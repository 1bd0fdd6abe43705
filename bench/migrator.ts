// Benchmark of the migrator against the bare tools, on a pgbench database.
// Prints one JSON document. Run:
//   node_modules/.bin/node --import tsx bench/migrator.ts [--scale 50] [--compile]
// It starts a throwaway PostgreSQL (the migrator tests' global setup), loads
// `pgbench -i -s <scale>`, then times in one run:
//   - `migrator backup` (custom format, verified, exact row counts, sha256) vs bare `pg_dump -Fc`
//   - `migrator migrate` vs TypeORM's CLI `migration:run` on the same migrations
//     (bench/migrator-migrations), each on its own copy of the database.
// The migrator runs compiled when dist/migrator-image/src/main.js exists
// (npm run build), otherwise through tsx (adds ~1-3 s of start-up).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import postgresSetup from '../test/setup/postgres-setup.js';
import postgresTeardown from '../test/setup/postgres-teardown.js';

const ROOT = process.cwd();
const NODE = process.execPath;
const scaleArg = process.argv.indexOf('--scale');
const SCALE = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 50;
const compiled = path.join(ROOT, 'dist/migrator-image/src/main.js');
// Use dist only when it is newer than every migrator source (a stale build would measure old code).
function compiledIsFresh(): boolean {
  if (!existsSync(compiled)) return false;
  const built = statSync(compiled).mtimeMs;
  const src = path.join(ROOT, 'migrator-image/src');
  const walk = (d: string): number[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(d, e.name)) : [statSync(path.join(d, e.name)).mtimeMs],
    );
  return walk(src).every((m) => m <= built);
}
// --compile: build the migrator into migrator-image/.bench-dist first (removed afterwards),
// so the figures are those of the compiled program the image runs.
const benchDist = path.join(ROOT, 'migrator-image/.bench-dist');
if (process.argv.includes('--compile')) {
  spawnSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', benchDist], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  if (!existsSync(path.join(benchDist, 'migrator-image/src/main.js')))
    throw new Error('tsc did not produce the migrator');
  cpSync(path.join(ROOT, 'package.json'), path.join(benchDist, 'package.json'));
}
const benchMain = path.join(benchDist, 'migrator-image/src/main.js');
const useCompiled = existsSync(benchMain) || compiledIsFresh();
const migratorArgs = existsSync(benchMain)
  ? [benchMain]
  : useCompiled
    ? [compiled]
    : ['--import', 'tsx', path.join(ROOT, 'migrator-image/src/main.ts')];

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)} ${r.stdout.slice(-2000)}`,
    );
  return Math.round(ms);
}

function psql(db: string, sql: string): void {
  timed('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql]);
}

async function main() {
  await postgresSetup();
  const work = mkdtempSync(path.join(tmpdir(), 'dbm-bench-'));
  try {
    const figures: Record<string, unknown> = {
      scale: SCALE,
      migratorForm: useCompiled ? 'compiled' : 'tsx',
      server: 'PostgreSQL 15 (Debian), fsync=off',
    };
    psql('postgres', 'CREATE DATABASE bench');
    figures.pgbenchInitMs = timed('pgbench', ['-i', '-q', '-s', String(SCALE), '-d', 'bench']);
    psql('bench', 'VACUUM ANALYZE');

    // Backup: bare pg_dump, then the migrator (same database, same format).
    const bare = path.join(work, 'bare.dump');
    figures.pgDumpCustomMs = timed('pg_dump', ['-Fc', '-f', bare, '-d', 'bench']);
    figures.pgDumpBytes = statSync(bare).size;
    rmSync(bare);
    const resultPath = path.join(work, 'result.json');
    figures.migratorBackupMs = timed(NODE, [...migratorArgs, 'backup'], {
      PGDATABASE: 'bench',
      BACKUP_DIR: path.join(work, 'backups'),
      BACKUP_ID: 'bench',
      RESULT_PATH: resultPath,
      LOG_LEVEL: 'warn',
    });
    figures.migratorBackupResult = JSON.parse(
      (await import('node:fs')).readFileSync(resultPath, 'utf8'),
    ).backup;

    // Migrate: two copies of the database, the same migrations.
    psql('postgres', 'CREATE DATABASE bench_migrator TEMPLATE bench');
    psql('postgres', 'CREATE DATABASE bench_typeorm TEMPLATE bench');
    const migrations = path.join(ROOT, 'bench/migrator-migrations');
    figures.migratorMigrateMs = timed(NODE, [...migratorArgs, 'migrate'], {
      PGDATABASE: 'bench_migrator',
      MIGRATIONS_DIR: migrations,
      TRANSACTION_MODE: 'each',
      RESULT_PATH: resultPath,
      LOG_LEVEL: 'warn',
    });
    figures.migratorMigrateResult = JSON.parse(
      (await import('node:fs')).readFileSync(resultPath, 'utf8'),
    ).migrations;
    const ds = path.join(work, 'data-source.mjs');
    const typeormUrl = pathToFileURL(path.join(ROOT, 'node_modules/typeorm/index.mjs')).href;
    writeFileSync(
      ds,
      `import { DataSource } from ${JSON.stringify(typeormUrl)};
export default new DataSource({ type: 'postgres', host: process.env.PGHOST, port: Number(process.env.PGPORT), username: process.env.PGUSER,
  password: process.env.PGPASSWORD, database: 'bench_typeorm', migrations: [${JSON.stringify(migrations + '/*.js')}], migrationsTransactionMode: 'each' });\n`,
    );
    figures.typeormCliMigrateMs = timed(NODE, [
      path.join(ROOT, 'node_modules/typeorm/cli.js'),
      'migration:run',
      '-d',
      ds,
    ]);
    // Start-up cost alone: a migrate with nothing pending.
    figures.migratorNoopMigrateMs = timed(NODE, [...migratorArgs, 'migrate'], {
      PGDATABASE: 'bench_migrator',
      MIGRATIONS_DIR: migrations,
      TRANSACTION_MODE: 'each',
      RESULT_PATH: resultPath,
      LOG_LEVEL: 'warn',
    });
    process.stdout.write(JSON.stringify(figures, null, 2) + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(benchDist, { recursive: true, force: true });
    await postgresTeardown();
  }
}

await main();
