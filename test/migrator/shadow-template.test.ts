// The check's private server from a data directory prepared at image build
// time (SHADOW_TEMPLATE_DIR): copied, not initdb'd, when it is of the
// binaries' major; initdb otherwise. Both start-ups are measured and printed
// (bench/parts/shadow.ts records them in bench/results/latest.json).
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  initTemplate,
  installedMajors,
  startShadow,
  usableTemplate,
  type ShadowServer,
} from '../../migrator-image/src/shadow/server.js';

const T = 180_000;
const RUNS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function works(s: ShadowServer): Promise<void> {
  const c = new pg.Client({ host: s.host, port: s.port, user: s.user, database: s.database });
  await c.connect();
  try {
    await c.query('CREATE TABLE t (id int PRIMARY KEY)');
    await c.query('INSERT INTO t VALUES (1), (2)');
    expect(Number((await c.query('SELECT count(*) AS n FROM t')).rows[0].n)).toBe(2);
  } finally {
    await c.end();
  }
}

describe('shadow server from a prepared data directory', () => {
  const major = installedMajors().pop()!;
  const binDir = `/usr/lib/postgresql/${major}/bin`;
  const parent = mkdtempSync(path.join(tmpdir(), 'dbm-template-'));
  const template = path.join(parent, 'pgdata-template');

  beforeAll(async () => {
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(parent, uid, gid);
    }
    await initTemplate(binDir, template);
  }, T);

  it('uses a template only of the same major', () => {
    expect(usableTemplate(template, major)).toBe(template);
    expect(usableTemplate(template, major + 1)).toBeUndefined();
    expect(usableTemplate(path.join(parent, 'missing'), major)).toBeUndefined();
    expect(usableTemplate(undefined, major)).toBeUndefined();
  });

  it(
    'starts from a copy of the template (and works); initdb without it or for another major; both timed',
    async () => {
      const times = { initdb: [] as number[], template: [] as number[] };
      for (let i = 0; i < RUNS; i++)
        for (const side of ['initdb', 'template'] as const) {
          const s = await startShadow({ binDir, template: side === 'template' ? template : '' });
          try {
            expect(s.dataDir).toBe(side);
            times[side].push(s.startMs!);
            await works(s);
          } finally {
            await s.stop();
          }
        }
      // A template of another major is not used.
      const other = path.join(parent, 'other-major');
      cpSync(template, other, { recursive: true });
      writeFileSync(path.join(other, 'PG_VERSION'), `${major + 1}\n`);
      const s = await startShadow({ binDir, template: other });
      expect(s.dataDir).toBe('initdb');
      await s.stop();

      const figures = {
        major,
        runs: RUNS,
        initdbMs: { samples: times.initdb, median: median(times.initdb) },
        templateMs: { samples: times.template, median: median(times.template) },
      };
      // Printed, not asserted (a shared machine's load decides the order of two medians); the bench records them.
      console.log(`shadow start-up ${JSON.stringify(figures)}`);
    },
    T,
  );
});
