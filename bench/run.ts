// `npm run bench`: the project's performance figures, in one run, written to
// bench/results/latest.json and printed as a table. Every comparison runs its
// sides interleaved; nothing here is asserted (tests assert behaviour, the
// bench reports figures).
//
//   npm run bench -- [--only migrate,startup,check,shadow,backup,cluster,scale,images]
//                    [--runs 5] [--size 256] [--migrations 200] [--check-migrations 1000] [--check-runs 3]
//                    [--check-before <other build's dist/migrator-image/src/main.js>]
//                    [--resources 5000] [--queued 1000] [--scale-before <other build's dist/operator/main.js>]
//                    [--idle-seconds 30]
//                    [--out bench/results/latest.json]
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchBackup } from './parts/backup.js';
import { benchCheck } from './parts/check.js';
import { benchCluster } from './parts/cluster.js';
import { benchImages } from './parts/images.js';
import { benchMigrate } from './parts/migrate.js';
import { benchScale } from './parts/scale.js';
import { benchShadowStart } from './parts/shadow.js';
import { machine, table, versions, writeJson, type PartReport } from './lib/report.js';
import { targets, targetsTable } from './lib/targets.js';
import { ROOT, startPostgres, type Pg } from './lib/postgres.js';
import type { Result } from './lib/stats.js';

const ALL = ['migrate', 'startup', 'check', 'shadow', 'backup', 'cluster', 'scale', 'images'] as const;
type Part = (typeof ALL)[number];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    runs: { type: 'string', default: '5' },
    size: { type: 'string', default: '256' },
    migrations: { type: 'string', default: '200' },
    'check-migrations': { type: 'string', default: '1000' },
    'check-runs': { type: 'string', default: '3' },
    'check-before': { type: 'string' },
    resources: { type: 'string', default: '5000' },
    namespaces: { type: 'string', default: '50' },
    queued: { type: 'string', default: '1000' },
    'scale-before': { type: 'string' },
    'scale-rounds': { type: 'string', default: '2' },
    'idle-seconds': { type: 'string', default: '30' },
    'cluster-runs': { type: 'string', default: '5' },
    out: { type: 'string', default: path.join(ROOT, 'bench/results/latest.json') },
  },
});
const num = (k: keyof typeof values) => {
  const n = Number(values[k]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer`);
  return n;
};
const only = (values.only
  ?.split(',')
  .map((s) => s.trim())
  .filter(Boolean) ?? [...ALL]) as Part[];
const bad = only.filter((p) => !(ALL as readonly string[]).includes(p));
if (bad.length) throw new Error(`unknown part(s) ${bad.join(', ')}; parts: ${ALL.join(', ')}`);
// startup rides along with migrate (same database, same migrator build).
const wanted = new Set(only);

const parts: PartReport[] = [];
const extraVersions: Record<string, string> = {};
let pg: Pg | undefined;
async function postgres(): Promise<Pg> {
  if (!pg) {
    pg = await startPostgres();
    extraVersions.postgresServer = pg.serverVersion;
    extraVersions.pgDump = (await import('./lib/proc.js'))
      .run(path.join(pg.clientBin, 'pg_dump'), ['--version'])
      .stdout.trim();
  }
  return pg;
}

async function part(name: string, options: Record<string, unknown>, fn: () => Promise<Result[]> | Result[]) {
  const t0 = performance.now();
  process.stderr.write(`bench: ${name} ...\n`);
  try {
    const results = await fn();
    parts.push({
      part: name,
      ok: true,
      seconds: Math.round((performance.now() - t0) / 1000),
      results,
      options,
    });
  } catch (err) {
    const error = (err as Error).stack ?? String(err);
    process.stderr.write(`bench: ${name} failed: ${error}\n`);
    parts.push({
      part: name,
      ok: false,
      seconds: Math.round((performance.now() - t0) / 1000),
      results: [],
      error,
      options,
    });
  }
}

const runs = num('runs');
const started = new Date();
try {
  if (wanted.has('migrate') || wanted.has('startup'))
    await part('migrate', { migrations: num('migrations'), runs }, async () =>
      benchMigrate(await postgres(), { migrations: num('migrations'), runs }),
    );
  if (wanted.has('check'))
    await part('check', { migrations: num('check-migrations'), runs: num('check-runs') }, async () =>
      benchCheck(await postgres(), {
        migrations: num('check-migrations'),
        runs: num('check-runs'),
        shadowBin: process.env.DBM_TEST_PG_BIN ?? '',
        ...(values['check-before'] ? { beforeMain: path.resolve(values['check-before']) } : {}),
      }),
    );
  if (wanted.has('shadow'))
    await part('shadow', { runs }, () => benchShadowStart(runs, process.env.DBM_TEST_PG_BIN));
  if (wanted.has('backup'))
    await part('backup', { sizeMiB: num('size'), runs }, async () =>
      benchBackup(await postgres(), {
        sizeMiB: num('size'),
        runs,
        work: process.env.DBM_BENCH_WORK ?? tmpdir(),
      }),
    );
  if (pg) {
    await pg.stop();
    pg = undefined;
  }
  if (wanted.has('scale'))
    await part(
      'scale',
      { resources: num('resources'), namespaces: num('namespaces'), queued: num('queued') },
      () =>
        benchScale({
          resources: num('resources'),
          namespaces: num('namespaces'),
          queued: num('queued'),
          ...(values['scale-before'] ? { beforeMain: path.resolve(values['scale-before']) } : {}),
          rounds: num('scale-rounds'),
          idleMs: num('idle-seconds') * 1000,
        }),
    );
  if (wanted.has('cluster'))
    await part('cluster', { runs: num('cluster-runs') }, () => benchCluster({ runs: num('cluster-runs') }));
  if (wanted.has('images')) await part('images', {}, () => benchImages());
} finally {
  if (pg) await pg.stop();
}

// latest.json keeps the newest result of every part: a part rerun alone
// (--only) replaces its own entry and leaves the others as they were, each
// with the date, machine and versions of the run that produced it.
const run = {
  date: started.toISOString(),
  finishedAt: new Date().toISOString(),
  command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  machine: machine(),
  versions: versions(extraVersions),
};
const previous = existsSync(values.out!)
  ? (JSON.parse(readFileSync(values.out!, 'utf8')) as { parts?: (PartReport & { run?: unknown })[] })
  : {};
const kept = (previous.parts ?? []).filter((p) => !parts.some((q) => q.part === p.part));
const merged = [...kept, ...parts.map((p) => ({ ...p, run }))].sort(
  (a, b) => ALL.indexOf(a.part as Part) - ALL.indexOf(b.part as Part),
);
// Issue 20's rows, each read from the newest result of its part (with that part's date).
const rows = targets(merged);
writeJson(values.out!, { ...run, targets: rows, parts: merged });
process.stdout.write(table(parts) + '\n\n');
process.stdout.write(targetsTable(rows) + '\n');
process.stdout.write(`\nwritten to ${path.relative(process.cwd(), values.out!)}\n`);
process.exitCode = parts.every((p) => p.ok) ? 0 : 1;
