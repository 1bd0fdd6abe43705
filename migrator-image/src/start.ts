#!/usr/bin/env node
// The bundle's entry (scripts/bundle.ts): turns on Node's compile cache before
// anything else is loaded, then runs main.ts, which the bundle keeps in a chunk
// of its own so that it is compiled (or read from the cache) after this line.
//
// The cache directory is DBM_COMPILE_CACHE, else `.cache` beside this file.
// Node keeps one subdirectory per uid and reads a read-only cache as long as
// that subdirectory exists, so the image fills it at build time, as the user
// the migrator runs as, in its final place (the cache is keyed by path):
//   node start.mjs --warm-compile-cache
// compiles every chunk of the bundle (and what they import from node_modules,
// TypeORM included) and exits. Without a usable directory the migrator runs
// as before, only slower to start.
import { readdirSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = import.meta.dirname;
const cache = module.enableCompileCache?.(process.env.DBM_COMPILE_CACHE || join(here, '.cache'));

if (process.argv[2] === '--warm-compile-cache') {
  if (cache?.status !== module.constants.compileCacheStatus.ENABLED)
    throw new Error(`the compile cache is not enabled: ${cache?.message ?? 'this Node has none'}`);
  // Every chunk but this entry and main's (which would run a command).
  for (const f of readdirSync(here).sort())
    if (f.endsWith('.mjs') && f !== 'start.mjs' && !f.startsWith('main-'))
      await import(pathToFileURL(join(here, f)).href);
  module.flushCompileCache();
  process.stdout.write(`compile cache written to ${cache.directory}\n`);
} else {
  await import('./main.js');
}
