// Prints the SQL linter's precision and recall per finding category and overall,
// as JSON, for both labelled sets: `tsx scripts/lint-accuracy.ts`.
// - external: cases written by others (other linters' docs and tests, public
//   TypeORM histories): the accuracy figure we claim.
// - regression: our own corpus; it only guards against regressions (we wrote
//   both the rules and the labels, so its score says little about accuracy).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCorpus, measure } from '../migrator-image/src/lint/accuracy.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const external = await measure(loadCorpus(join(root, 'test/fixtures/lint-external')));
const regression = await measure(loadCorpus(join(root, 'test/fixtures/lint-corpus')));
console.log(JSON.stringify({ external, regression }, null, 2));
