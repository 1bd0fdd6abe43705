// `npm run build:bundle`: the migrator as a few ES modules (esbuild, code
// splitting: each command's code is loaded only when that command runs) in
// dist/bundle/migrator/, entry start.mjs, with Node's compile cache filled in
// dist/bundle/migrator/.cache. typeorm, pg and libpg-query stay external: the
// users' migration files import 'typeorm' at run time and get the migrator's
// DataSource, so there must be one TypeORM (and one pg) resolved from
// node_modules; libpg-query loads its WASM file beside itself. The bundle must
// therefore sit inside the package (dist/ beside node_modules/).
//   npm run build:bundle            # build and warm the cache here
//   npm run build:bundle -- --no-warm   # build only (an image warms it in place:
//                                       # node dist/bundle/migrator/start.mjs --warm-compile-cache)
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
// --out DIR (the tests): it must be inside the package too, for node_modules.
const outAt = process.argv.indexOf('--out');
const outArg = outAt > 0 ? process.argv[outAt + 1] : undefined;
const out = outArg ? resolve(outArg) : join(root, 'dist/bundle/migrator');
export const EXTERNAL = ['typeorm', 'pg', 'libpg-query', '@kubernetes/client-node'];

rmSync(out, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { start: 'migrator-image/src/start.ts' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  external: EXTERNAL,
  // main.ts is its own chunk (start.ts imports it dynamically); a name says which.
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  logLevel: 'warning',
  legalComments: 'none',
  // pino and its helpers are CommonJS and require Node's modules: give ESM chunks a require.
  banner: {
    js: "import { createRequire as __dbmRequire } from 'node:module'; const require = __dbmRequire(import.meta.url);",
  },
});

if (!process.argv.includes('--no-warm')) {
  // What the image does in its final place, as its user (the cache is keyed by path and uid).
  const warm = spawnSync(process.execPath, [join(out, 'start.mjs'), '--warm-compile-cache'], {
    stdio: 'inherit',
  });
  if (warm.status !== 0) throw new Error(`warming the compile cache failed (exit ${warm.status})`);
}
process.stdout.write(`bundled the migrator into ${out}\n`);
