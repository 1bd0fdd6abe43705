#!/usr/bin/env node
// `kubectl-dbm` (the `kubectl dbm` plugin) from a checkout or an installed package: runs the TypeScript
// source through tsx when both are there (a checkout with dev dependencies),
// otherwise the compiled entry in dist/ (`npm run build`).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
const source = join(root, 'plugin/main.ts');
const dist = join(root, 'dist/plugin/main.js');

let tsx;
try {
  tsx = existsSync(source) ? await import('tsx/esm/api') : undefined;
} catch {
  tsx = undefined; // tsx is a dev dependency: absent in production installs
}
if (tsx) {
  tsx.register();
  await import(pathToFileURL(source).href);
} else if (existsSync(dist)) {
  await import(pathToFileURL(dist).href);
} else {
  process.stderr.write('kubectl-dbm: neither tsx nor dist/ is available; run `npm ci` or `npm run build`\n');
  process.exitCode = 2;
}
