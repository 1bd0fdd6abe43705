// The check's cost beside what it proves: `migrator check` (the shadow server,
// every up() traced, every down() proved, the ups again) on N generated
// migrations beside `migrator migrate` of the same N, each on a fresh empty
// database, interleaved, in the same transaction mode. The ratio check/migrate
// is the figure issue 20 names (up, down, up is three passes: about 4x).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fullResultFromLog } from '../../crds/job-result.js';
import { migratorArgs, migratorEnv, NODE, psql, recreateDb, type Pg } from '../lib/postgres.js';
import { run } from '../lib/proc.js';
import { figure, interleave, type Result } from '../lib/stats.js';
import { generateMigrations } from './generate-migrations.js';

export interface CheckOptions {
  migrations: number;
  runs: number;
  /** initdb/postgres of the shadow server. */
  shadowBin: string;
  /** Another build's dist/migrator-image/src/main.js: its check runs as a third side (same load). */
  beforeMain?: string;
}

export async function benchCheck(pg: Pg, o: CheckOptions): Promise<Result[]> {
  const work = mkdtempSync(path.join(tmpdir(), 'dbm-bench-check-'));
  try {
    // Small data migrations: the check measures the plan, not bulk inserts.
    const dir = generateMigrations(path.join(work, 'migrations'), o.migrations, 50);
    const resultPath = path.join(work, 'result.json');
    const env = (db: string) => ({ ...migratorEnv(pg, db, dir, resultPath), SHADOW_PG_BIN_DIR: o.shadowBin });
    let statements = 0;
    const checkSide = (label: string, main: string[]) => ({
      label,
      prepare: () => recreateDb(pg, 'bench_check'),
      measure: () => {
        const r = run(NODE, [...main, 'check'], { env: env('bench_check') });
        // The full result line (the result file may be cut to its size limit).
        const result = JSON.parse(fullResultFromLog(r.stdout) ?? readFileSync(resultPath, 'utf8')) as {
          ok: boolean;
          plan?: { pending?: unknown[]; shadow?: { statementsTraced?: number; reversibility?: string } };
          totals?: Record<string, number>;
        };
        if (!result.ok) throw new Error(`the check failed: ${JSON.stringify(result).slice(0, 1000)}`);
        if (result.plan?.shadow?.reversibility !== 'proven')
          throw new Error(`the check did not prove the down()s: ${JSON.stringify(result.plan?.shadow)}`);
        statements = result.plan.shadow.statementsTraced ?? 0;
        return r.ms;
      },
    });
    const cmp = await interleave(
      `migrate vs check: ${o.migrations} generated migrations, fresh database (transaction mode each)`,
      'ms',
      o.runs,
      [
        {
          label: 'migrator migrate',
          prepare: () => recreateDb(pg, 'bench_check_migrate'),
          measure: () => {
            const ms = run(NODE, [...migratorArgs(), 'migrate'], { env: env('bench_check_migrate') }).ms;
            const applied = Number(psql(pg, 'bench_check_migrate', 'SELECT count(*) FROM migrations').trim());
            if (applied !== o.migrations) throw new Error(`migrate applied ${applied} of ${o.migrations}`);
            return ms;
          },
        },
        checkSide('migrator check', migratorArgs()),
        ...(o.beforeMain ? [checkSide('migrator check (--check-before build)', [o.beforeMain])] : []),
      ],
      `shadow server ${path.basename(path.dirname(o.shadowBin))}`,
    );
    const check = cmp.sides[1]!.median;
    return [
      cmp,
      figure('check throughput', (o.migrations / check) * 1000, 'migrations/s'),
      figure('check: statements traced', statements, 'statements'),
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
