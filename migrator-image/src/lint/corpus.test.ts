import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCorpus, measure } from './accuracy.js';
import { RULES } from './index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/lint-corpus');

describe('labelled lint corpus', () => {
  const corpus = loadCorpus(dir);

  it('loads at least 300 labelled statements with known rule ids and a source', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(300);
    const known = new Set(RULES.map((r) => r.id));
    for (const e of corpus) {
      expect(typeof e.sql).toBe('string');
      expect(e.source.length).toBeGreaterThan(0);
      for (const r of e.expect) expect([r, known.has(r)]).toEqual([r, true]);
    }
  });

  it('uses every rule of the catalog at least once, and has safe examples', () => {
    const used = new Set(corpus.flatMap((e) => e.expect));
    expect(RULES.map((r) => r.id).filter((id) => !used.has(id))).toEqual([]);
    expect(corpus.filter((e) => e.expect.length === 0).length).toBeGreaterThanOrEqual(80);
  });

  it('reaches overall precision and recall of at least 0.95', async () => {
    const acc = await measure(corpus);
    // Printing the mismatches makes a failure readable.
    expect({
      precision: acc.overall.precision >= 0.95,
      recall: acc.overall.recall >= 0.95,
      acc,
    }).toMatchObject({
      precision: true,
      recall: true,
    });
    expect(acc.overall.tp).toBeGreaterThan(200);
  });
});
