// `migrator migrate` beside TypeORM's own CLI (`typeorm migration:run` from
// node_modules) on the same generated migrations, each side on a fresh copy of
// the same empty database, in the same transaction mode; and the migrator's
// start-up beside `node -e 0`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { migratorArgs, migratorEnv, NODE, psql, recreateDb, ROOT, type Pg } from '../lib/postgres.js';
import { run } from '../lib/proc.js';
import { figure, interleave, type Result } from '../lib/stats.js';
import { generateMigrations } from './generate-migrations.js';

export interface MigrateOptions {
  migrations: number;
  runs: number;
}

function typeormDataSource(work: string, db: string, migrations: string): string {
  const file = path.join(work, `data-source-${db}.mjs`);
  const typeormUrl = pathToFileURL(path.join(ROOT, 'node_modules/typeorm/index.mjs')).href;
  writeFileSync(
    file,
    `import { DataSource } from ${JSON.stringify(typeormUrl)};
export default new DataSource({ type: 'postgres', host: process.env.PGHOST, port: Number(process.env.PGPORT),
  username: process.env.PGUSER, password: process.env.PGPASSWORD, database: ${JSON.stringify(db)},
  migrations: [${JSON.stringify(migrations + '/*.js')}], migrationsTransactionMode: 'each' });\n`,
  );
  return file;
}

export async function benchMigrate(pg: Pg, o: MigrateOptions): Promise<Result[]> {
  const work = mkdtempSync(path.join(tmpdir(), 'dbm-bench-migrate-'));
  try {
    const dir = generateMigrations(path.join(work, 'migrations'), o.migrations);
    const resultPath = path.join(work, 'result.json');
    const envFor = (db: string) => migratorEnv(pg, db, dir, resultPath);
    const ds = typeormDataSource(work, 'bench_typeorm', dir);
    const applied = (db: string) => Number(psql(pg, db, 'SELECT count(*) FROM migrations').trim());
    const migrate = await interleave(
      `migrate ${o.migrations} generated migrations (transaction mode each)`,
      'ms',
      o.runs,
      [
        {
          label: 'typeorm migration:run',
          prepare: () => recreateDb(pg, 'bench_typeorm'),
          measure: () => {
            const ms = run(
              NODE,
              [path.join(ROOT, 'node_modules/typeorm/cli.js'), 'migration:run', '-d', ds],
              {
                env: pg.env,
              },
            ).ms;
            if (applied('bench_typeorm') !== o.migrations) throw new Error('typeorm applied too few');
            return ms;
          },
        },
        {
          label: 'migrator migrate',
          prepare: () => recreateDb(pg, 'bench_migrator'),
          measure: () => {
            const ms = run(NODE, [...migratorArgs(), 'migrate'], { env: envFor('bench_migrator') }).ms;
            if (applied('bench_migrator') !== o.migrations) throw new Error('the migrator applied too few');
            return ms;
          },
        },
      ],
    );
    // The migrator's own account of the last run: time inside the migrations vs around them.
    const result = JSON.parse(readFileSync(resultPath, 'utf8')) as {
      migrations?: { durationMs?: number }[];
      usage?: { maxRssBytes?: number; maxRssKb?: number };
    };
    const inside = (result.migrations ?? []).reduce((a, m) => a + (m.durationMs ?? 0), 0);
    const out: Result[] = [migrate];
    if (inside > 0) out.push(figure('migrator: time inside the migrations (last run)', inside, 'ms'));

    const startup = await interleave('start-up', 'ms', Math.max(o.runs, 10), [
      { label: 'node -e 0', measure: () => run(NODE, ['-e', '0']).ms },
      {
        label: 'migrator (usage, no work)',
        measure: () => run(NODE, [...migratorArgs()], { okCodes: [2] }).ms,
      },
      {
        label: 'migrator migrate, nothing pending',
        measure: () => run(NODE, [...migratorArgs(), 'migrate'], { env: envFor('bench_migrator') }).ms,
      },
    ]);
    out.push(startup);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
