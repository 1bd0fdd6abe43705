// `migrator backup` beside bare pg_dump with the same options (custom; and
// directory with -j 2), the same pg_dump binary (PostgreSQL 18's, as in the
// migrator image), on generated text and JSONB that compresses like real data
// (random hex words, not pgbench's blank filler). The migrator's verification
// (pg_restore --list, then a test restore with row counts) is measured apart.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { migratorArgs, NODE, psql, recreateDb, type Pg } from '../lib/postgres.js';
import { run } from '../lib/proc.js';
import { figure, interleave, type Result } from '../lib/stats.js';

function sizeOf(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((a, f) => a + sizeOf(path.join(p, f)), 0);
}

/** ~`mb` MiB of table data: hex words (about 2:1 under gzip) and a JSONB document per row. */
export function loadData(pg: Pg, db: string, mb: number): { bytes: number; rows: number; ms: number } {
  recreateDb(pg, db);
  psql(
    pg,
    db,
    `CREATE TABLE docs (id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL, attrs jsonb NOT NULL);
     CREATE TABLE events (id bigint, doc_id bigint, at timestamptz, kind text, data jsonb)`,
  );
  // One row is ~1 KiB on disk (docs) + ~0.25 KiB (events); batches keep each statement short.
  const rows = Math.max(1000, Math.round((mb * 1024 * 1024) / 1300));
  const batch = 50_000;
  const t0 = performance.now();
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    psql(
      pg,
      db,
      `INSERT INTO docs SELECT g, 'doc ' || md5(g::text),
         (SELECT string_agg(md5(random()::text || g || w.i), ' ') FROM generate_series(1, 22 + (g % 3)) AS w(i)),
         jsonb_build_object('owner', md5(random()::text), 'score', random(), 'tags',
           jsonb_build_array(md5(random()::text), (random() * 1000)::int), 'n', g)
       FROM generate_series(${from}, ${to}) g;
       INSERT INTO events SELECT g, g, now() - (random() * interval '400 days'), (ARRAY['view','edit','share'])[1 + g % 3],
         jsonb_build_object('ip', md5(random()::text), 'ms', (random() * 5000)::int)
       FROM generate_series(${from}, ${to}) g`,
    );
  }
  psql(pg, db, 'VACUUM ANALYZE');
  const ms = performance.now() - t0;
  const bytes = Number(psql(pg, db, `SELECT pg_database_size('${db}')`).trim());
  return { bytes, rows: rows * 2, ms };
}

export interface BackupOptions {
  sizeMiB: number;
  runs: number;
  work: string;
}

export async function benchBackup(pg: Pg, o: BackupOptions): Promise<Result[]> {
  const db = 'bench_backup';
  const loaded = loadData(pg, db, o.sizeMiB);
  const out: Result[] = [
    figure(
      'backup data set: database size',
      loaded.bytes / 1024 / 1024,
      'MiB',
      `${loaded.rows} rows, text + JSONB`,
    ),
    figure('backup data set: load time', loaded.ms, 'ms'),
  ];
  const dir = mkdtempSync(path.join(o.work, 'dbm-bench-backup-'));
  const pgDump = path.join(pg.clientBin, 'pg_dump');
  const sizes = new Map<string, number>();
  let n = 0;
  const target = (label: string) => path.join(dir, `${label}-${++n}`);
  const bare = (label: string, args: string[]) => ({
    label,
    measure: () => {
      const file = target('bare');
      const ms = run(pgDump, [...args, '-f', file, '-d', db], { env: pg.env }).ms;
      sizes.set(label, sizeOf(file));
      rmSync(file, { recursive: true, force: true });
      return ms;
    },
  });
  const migrator = (label: string, env: NodeJS.ProcessEnv) => ({
    label,
    measure: () => {
      const backups = target('migrator');
      mkdirSync(backups);
      const ms = run(NODE, [...migratorArgs(), 'backup'], {
        env: {
          ...pg.env,
          PGDATABASE: db,
          BACKUP_DIR: backups,
          BACKUP_ID: 'bench',
          RESULT_PATH: path.join(dir, 'result.json'),
          LOG_LEVEL: 'warn',
          PG_CLIENT_BIN_DIR: pg.clientBin,
          ...env,
        },
      }).ms;
      const archive = readdirSync(backups).find((f) => !f.endsWith('.json'));
      if (archive) sizes.set(label, sizeOf(path.join(backups, archive)));
      rmSync(backups, { recursive: true, force: true });
      return ms;
    },
  });

  out.push(
    await interleave(`backup, custom format (${o.sizeMiB} MiB set)`, 'ms', o.runs, [
      bare('pg_dump -Fc', ['-Fc']),
      migrator('migrator backup custom (verify off)', { BACKUP_FORMAT: 'custom', BACKUP_VERIFY: 'false' }),
      bare('pg_dump -Fc -Z lz4', ['-Fc', '-Z', 'lz4']),
      migrator('migrator backup custom lz4, the operator default (verify off)', {
        BACKUP_FORMAT: 'custom',
        BACKUP_COMPRESSION: 'lz4',
        BACKUP_VERIFY: 'false',
      }),
      bare('pg_dump -Fc -Z zstd', ['-Fc', '-Z', 'zstd']),
    ]),
  );
  out.push(
    await interleave(`backup, directory format -j 2 (${o.sizeMiB} MiB set)`, 'ms', o.runs, [
      bare('pg_dump -Fd -j 2', ['-Fd', '-j', '2']),
      migrator('migrator backup directory -j 2 (verify off)', {
        BACKUP_FORMAT: 'directory',
        BACKUP_JOBS: '2',
        BACKUP_VERIFY: 'false',
      }),
      bare('pg_dump -Fd -j 2 -Z lz4', ['-Fd', '-j', '2', '-Z', 'lz4']),
      migrator('migrator backup directory -j 2 lz4 (verify off)', {
        BACKUP_FORMAT: 'directory',
        BACKUP_JOBS: '2',
        BACKUP_COMPRESSION: 'lz4',
        BACKUP_VERIFY: 'false',
      }),
    ]),
  );
  // Verification apart: the same backup with verify on, fewer runs (it restores the whole set).
  out.push(
    await interleave(
      'backup verification (custom): verify off vs on',
      'ms',
      Math.max(1, Math.min(o.runs, 3)),
      [
        migrator('migrator backup custom (verify off)', { BACKUP_FORMAT: 'custom', BACKUP_VERIFY: 'false' }),
        migrator('migrator backup custom (verify on)', { BACKUP_FORMAT: 'custom', BACKUP_VERIFY: 'true' }),
      ],
      'verify = pg_restore --list + a test restore into a scratch database + exact row counts',
    ),
  );
  for (const [label, bytes] of sizes) out.push(figure(`archive size: ${label}`, bytes / 1024 / 1024, 'MiB'));
  rmSync(dir, { recursive: true, force: true });
  psql(pg, 'postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  return out;
}
