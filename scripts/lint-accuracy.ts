// Prints the SQL linter's precision and recall per finding category and overall
// against the labelled corpus, as JSON: `tsx scripts/lint-accuracy.ts`.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCorpus, measure } from '../migrator-image/src/lint/accuracy.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const result = await measure(loadCorpus(join(root, 'test/fixtures/lint-corpus')));
console.log(JSON.stringify(result, null, 2));
