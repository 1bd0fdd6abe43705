// The check's throughput: `migrator check` (the shadow server, every up()
// traced, every down() proved, the ups again) on N pending migrations.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migratorArgs, NODE, recreateDb, type Pg } from '../lib/postgres.js';
import { run } from '../lib/proc.js';
import { figure, type Result } from '../lib/stats.js';
import { generateMigrations } from './generate-migrations.js';

export async function benchCheck(pg: Pg, count: number, shadowBin: string): Promise<Result[]> {
  const work = mkdtempSync(path.join(tmpdir(), 'dbm-bench-check-'));
  try {
    // Small data migrations: the check measures the plan, not bulk inserts.
    const dir = generateMigrations(path.join(work, 'migrations'), count, 50);
    recreateDb(pg, 'bench_check');
    const resultPath = path.join(work, 'result.json');
    const ms = run(NODE, [...migratorArgs(), 'check'], {
      env: {
        ...pg.env,
        PGDATABASE: 'bench_check',
        MIGRATIONS_DIR: dir,
        RESULT_PATH: resultPath,
        LOG_LEVEL: 'warn',
        PG_CLIENT_BIN_DIR: pg.clientBin,
        SHADOW_PG_BIN_DIR: shadowBin,
      },
    }).ms;
    const result = JSON.parse(readFileSync(resultPath, 'utf8')) as {
      ok: boolean;
      plan?: { pending?: unknown[] | number };
      totals?: Record<string, number>;
    };
    if (!result.ok) throw new Error(`the check failed: ${JSON.stringify(result).slice(0, 1000)}`);
    return [
      figure(
        `check: ${count} pending migrations`,
        ms,
        'ms',
        `shadow server ${path.basename(path.dirname(shadowBin))}`,
      ),
      figure('check throughput', (count / ms) * 1000, 'migrations/s'),
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
