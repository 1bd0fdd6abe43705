// Prints the targets table of a results file as the README quotes it, or with
// --readme writes it into README.md between its targets markers:
//   node --import tsx bench/targets-md.ts [--readme] [bench/results/latest.json]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/postgres.js';
import { readmeWithTargets, targets, targetsMarkdown } from './lib/targets.js';

const { values, positionals } = parseArgs({
  options: { readme: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const file = positionals[0] ?? path.join(ROOT, 'bench/results/latest.json');
const doc = JSON.parse(readFileSync(file, 'utf8')) as { parts: Parameters<typeof targets>[0] };
const table = targetsMarkdown(targets(doc.parts));
if (values.readme) {
  const readme = path.join(ROOT, 'README.md');
  writeFileSync(readme, readmeWithTargets(readFileSync(readme, 'utf8'), table));
  process.stdout.write(`README.md: the targets table from ${path.relative(ROOT, file)}\n`);
} else process.stdout.write(table + '\n');
