// Merges results files of separate `npm run bench -- --only ... --out <file>`
// runs into one (later files win per part), e.g. parts run at the same time:
//   node --import tsx bench/merge.ts bench/results/latest.json a.json b.json
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeJson, type PartReport } from './lib/report.js';

// No flags: parseArgs refuses any (--out is the first file, not a flag).
const [out, ...inputs] = parseArgs({ options: {}, allowPositionals: true }).positionals;
if (!out || inputs.length === 0) throw new Error('usage: bench/merge.ts <out.json> <in.json>...');
type Doc = { date: string; parts: (PartReport & { run?: unknown })[] } & Record<string, unknown>;
const docs = inputs.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Doc);
const parts = new Map<string, PartReport & { run?: unknown }>();
for (const d of docs) for (const p of d.parts) parts.set(p.part, p);
const last = docs[docs.length - 1]!;
writeJson(out, {
  ...last,
  command: 'bench/merge.ts of separate runs (each part keeps its own run)',
  parts: [...parts.values()],
});
