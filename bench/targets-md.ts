// Prints the targets table of a results file as the README quotes it:
//   node --import tsx bench/targets-md.ts [bench/results/latest.json]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/postgres.js';
import { targets, targetsMarkdown } from './lib/targets.js';

const file = parseArgs({ options: {}, allowPositionals: true }).positionals[0];
const doc = JSON.parse(readFileSync(file ?? path.join(ROOT, 'bench/results/latest.json'), 'utf8')) as {
  parts: Parameters<typeof targets>[0];
};
process.stdout.write(targetsMarkdown(targets(doc.parts)) + '\n');
