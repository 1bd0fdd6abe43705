// One digest over the files the migrations may import: the copied root
// (spec.migrations.copyRoot, the app's dist) or the migrations directory, so an
// approval names the helpers and entities a migration reads too, not only the
// migration files. node_modules is left out (the lock file names it), and the
// walk is bounded: a tree too big to hash says so in the digest.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const MAX_FILES = 20_000;
const MAX_BYTES = 256 * 1024 * 1024;

export function treeDigest(root: string): { digest: string; files: number; complete: boolean } {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (files.length >= MAX_FILES) return;
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        // A ConfigMap volume's ..data and ..<timestamp> dirs: the same files under names that change.
        if (e.name !== 'node_modules' && e.name !== '.git' && !e.name.startsWith('..')) walk(p);
      } else if (e.isFile() || (e.isSymbolicLink() && statSync(p, { throwIfNoEntry: false })?.isFile()))
        files.push(p);
    }
  };
  walk(root);
  const h = createHash('sha256');
  let bytes = 0;
  let complete = files.length < MAX_FILES;
  for (const f of files) {
    const data = readFileSync(f);
    bytes += data.length;
    if (bytes > MAX_BYTES) {
      complete = false;
      break;
    }
    h.update(`${relative(root, f)}\0${createHash('sha256').update(data).digest('hex')}\n`);
  }
  if (!complete) h.update(`-- incomplete: more than ${MAX_FILES} files or ${MAX_BYTES} bytes\n`);
  return { digest: h.digest('hex'), files: files.length, complete };
}
