// Sizes of the operator and migrator images as buildah stores them (the
// images images/build.sh builds; what every node pulls before a first Job).
import path from 'node:path';
import { ROOT } from '../lib/postgres.js';
import { run } from '../lib/proc.js';
import { figure, type Result } from '../lib/stats.js';

interface BuildahImage {
  names?: string[] | null;
  size?: string;
  id: string;
}

export function benchImages(): Result[] {
  // DBM_BENCH_OPERATOR_IMAGE + DBM_BENCH_MIGRATOR_IMAGE: measure images already built instead.
  const given = [process.env.DBM_BENCH_OPERATOR_IMAGE, process.env.DBM_BENCH_MIGRATOR_IMAGE];
  if (given[0] && given[1]) return sizes(given[0], given[1]);
  // images.env names the images of the current sources (build.sh writes it; its cache makes a rebuild cheap).
  run('bash', [path.join(ROOT, 'images/build.sh'), '--no-import'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const env = run('bash', [
    '-c',
    `source ${JSON.stringify(path.join(ROOT, '.tmp/images/images.env'))}; echo "$DBM_OPERATOR_IMAGE $DBM_MIGRATOR_IMAGE"`,
  ])
    .stdout.trim()
    .split(' ');
  if (!env[0] || !env[1]) throw new Error('images.env names no operator or migrator image');
  return sizes(env[0], env[1]);
}

function sizes(operator: string, migrator: string): Result[] {
  const list = JSON.parse(
    run('bash', ['-c', `source ${JSON.stringify(path.join(ROOT, 'images/lib.sh'))}; bah images --json`])
      .stdout,
  ) as BuildahImage[];
  return [
    ['operator image', operator],
    ['migrator image', migrator],
  ].map(([label, ref]) => figure(label!, sizeOf(list, ref!) / 1e6, 'MB', ref));
}

function sizeOf(list: BuildahImage[], ref: string): number {
  const img = list.find((i) => i.names?.some((n) => n === ref || n.endsWith(ref)));
  if (!img?.size) throw new Error(`buildah lists no ${ref}`);
  const m = /([\d.]+)\s*([kMG]?B)/.exec(img.size);
  const mult = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m?.[2] ?? 'B'] ?? 1;
  return Number(m?.[1] ?? Number.NaN) * mult;
}
