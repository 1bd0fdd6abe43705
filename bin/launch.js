// Runs a TypeScript entry of this package from a checkout or an installed
// package: the source through tsx when both are there (a checkout with dev
// dependencies), otherwise its compiled twin in dist/ (`npm run build`).
import { existsSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');

/** `entry` is the source path without extension, relative to the package root. */
export async function launch(name, entry) {
  // A CLI on a user's machine: Node's compile cache (in the temp directory,
  // per user) spares later runs compiling the same modules again.
  module.enableCompileCache?.();
  const source = join(root, `${entry}.ts`);
  const dist = join(root, 'dist', `${entry}.js`);
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
    process.stderr.write(
      `${name}: neither tsx nor dist/ is available; run \`npm ci\` or \`npm run build\`\n`,
    );
    process.exitCode = 2;
  }
}
