// The operator's version, for dbmigration_build_info: the version of the
// package.json that ships with it (next to dist/ in the image, at the root of a
// checkout), found by walking up from this file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'database-migration-operator';

export function operatorVersion(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from, i = 0; i < 4; i++, dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (!existsSync(path)) continue;
    try {
      const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME && pkg.version) return pkg.version;
    } catch {
      // not readable JSON: keep looking
    }
  }
  return 'unknown';
}
