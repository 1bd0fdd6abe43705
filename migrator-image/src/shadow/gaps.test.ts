import type { Finding } from '../../../crds/job-result.js';
import type { Capture } from './capture.js';
import { gapFindings, HeaderIndex, locateErrors, referencedRelations } from './gaps.js';
import { incompleteFinding } from './findings.js';
import { seedFindings, seedList, seedName } from './seed.js';
import type { Config } from '../config.js';

const DUMP = `--
-- Name: geo; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.geo (
    id integer NOT NULL,
    v public.geometry
);

--
-- Name: plain; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.plain (
    id integer NOT NULL
);

--
-- Name: geo_v_idx; Type: INDEX; Schema: app; Owner: app
--

CREATE INDEX geo_v_idx ON ONLY app.places USING gist (v);

--
-- Name: geo geo_pkey; Type: CONSTRAINT; Schema: public; Owner: app
--

ALTER TABLE ONLY public.geo
    ADD CONSTRAINT geo_pkey PRIMARY KEY (id);
`;

function indexed(text: string, chunk = 7): HeaderIndex {
  const index = new HeaderIndex();
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += chunk) index.feed(b.subarray(i, i + chunk));
  return index;
}

describe('schema gaps', () => {
  it('names the relation each psql error line falls under (fed in small chunks)', () => {
    const lines = DUMP.split('\n');
    const at = (needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;
    const stderr = [
      `psql:<stdin>:${at('v public.geometry')}: ERROR:  type "public.geometry" does not exist`,
      'LINE 3:     v public.geometry',
      `psql:<stdin>:${at('CREATE INDEX')}: ERROR:  relation "app.places" does not exist`,
      `psql:<stdin>:${at('ADD CONSTRAINT')}: ERROR:  relation "public.geo" does not exist`,
      'ERROR:  without a line',
    ].join('\n');
    expect(locateErrors(stderr, indexed(DUMP))).toEqual([
      { message: 'ERROR:  type "public.geometry" does not exist', relation: 'public.geo' },
      { message: 'ERROR:  relation "app.places" does not exist', relation: 'app.places' },
      { message: 'ERROR:  relation "public.geo" does not exist', relation: 'public.geo' },
      { message: 'ERROR:  without a line' },
    ]);
  });

  it('reads the relations a migration names (parsed, bare or wrapped RangeVar, DROP) and its trace locked', async () => {
    const refs = await referencedRelations(
      ['ALTER TABLE geo ADD COLUMN x int', 'SELECT * FROM s.x JOIN y USING (a)', 'DROP TABLE z'],
      [
        {
          migration: 'M',
          index: 0,
          sql: '',
          locks: ['AccessExclusiveLock app.locked'],
          rewrites: [],
          heldAcross: 0,
          ms: 1,
        },
      ],
      'public',
      new Map(),
    );
    expect([...refs].sort()).toEqual(['app.locked', 'public.geo', 'public.y', 'public.z', 's.x']);
    // Unparseable SQL: matched by words against the gaps.
    const loose = await referencedRelations(
      ['ALTER TABLE geo ADD ((('],
      [],
      'public',
      new Map([['public.geo', 'e']]),
    );
    expect([...loose]).toEqual(['public.geo']);
  });

  it('blocks (category rehearsal) only the migration touching a gap, once', async () => {
    const gaps = new Map([['public.geo', 'ERROR:  type "public.geometry" does not exist']]);
    const captured = new Map([
      ['A1', ['ALTER TABLE plain ADD COLUMN n int']],
      ['B2', ['UPDATE public.geo SET id = id']],
    ]);
    const out = await gapFindings(gaps, ['A1', 'B2', 'C3'], captured, [], 'public');
    expect(out).toEqual([
      expect.objectContaining({
        rule: 'check-incomplete',
        category: 'rehearsal',
        severity: 'error',
        migration: 'B2',
        message: expect.stringMatching(/public\.geo.*geometry/),
      }),
    ]);
    expect(await gapFindings(gaps, ['B2'], captured, [], 'public', out as Finding[])).toEqual([]);
    expect(await gapFindings(new Map(), ['B2'], captured, [], 'public')).toEqual([]);
    // The schema errors alone: informational.
    expect(incompleteFinding(3, captured, 2, ['A1', 'B2'])).toEqual([
      expect.objectContaining({ rule: 'check-incomplete', category: 'incomplete', severity: 'warning' }),
    ]);
  });
});

describe('seed tables', () => {
  it('folds names as SQL does; a bare one is in the migrations schema', () => {
    const cfg = { MIGRATIONS_SCHEMA: 'app' } as Config;
    expect(seedName(cfg, 'Colors')).toEqual(['app', 'colors']);
    expect(seedName(cfg, 'Ref.Countries')).toEqual(['ref', 'countries']);
    expect(seedName({} as Config, 'colors')).toEqual(['public', 'colors']);
  });

  it('names spec.check.seedTables and the table in its findings', () => {
    const cap = {
      seed: {
        tables: ['public.colors'],
        missing: ['public.nope'],
        skipped: [{ table: 'public.big', reason: 'too big' }],
        bytes: 1,
      },
    } as Capture;
    const out = seedFindings(cap, ['ERROR: x'], 'M1');
    expect(out.map((f) => f.rule)).toEqual(['seed-table-missing', 'seed-table-skipped', 'seed-load-failed']);
    expect(out[0]!.message).toMatch(/spec\.check\.seedTables names public\.nope/);
    expect(out.every((f) => f.category === 'incomplete' && f.migration === 'M1')).toBe(true);
    expect(seedFindings({} as Capture, [], 'M1')).toEqual([]);
    expect(seedList(['a', 'b'])).toBe('a, b');
    expect(seedList(Array.from({ length: 12 }, (_, i) => `t${i}`))).toMatch(/t9 and 2 more$/);
  });
});
