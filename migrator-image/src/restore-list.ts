// What a restore leaves alone: extensions the connected role does not own
// (created by a superuser or the platform: uuid-ossp, cube, earthdistance, ...).
// pg_restore --clean would DROP and CREATE them, which only their owner may do
// ("must be owner of extension"), so the whole restore rolled back and a dropped
// table stayed lost. They are taken out of the archive's table of contents
// (pg_restore -L), left in place with their types and functions, and the
// restore works where the app's own role works.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { Config } from './config.js';
import { runTool } from './pgtools.js';

/** Extensions in the database that the current role neither owns nor may act for (a superuser owns them all). */
export async function foreignExtensions(client: pg.Client): Promise<string[]> {
  const r = await client.query<{ name: string }>(
    `SELECT e.extname AS name FROM pg_extension e
      WHERE e.extname <> 'plpgsql'
        AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
        AND NOT pg_has_role(current_user, e.extowner, 'USAGE')
      ORDER BY 1`,
  );
  return r.rows.map((x) => x.name);
}

/** A TOC line names the extension (its EXTENSION entry or its COMMENT). */
function isEntryOf(line: string, names: ReadonlySet<string>): boolean {
  // "2; 3079 16385 EXTENSION - uuid-ossp " / "4210; 0 0 COMMENT - EXTENSION "uuid-ossp" "
  const m = /^\d+; \d+ \d+ (EXTENSION|COMMENT) - (?:EXTENSION )?"?([^"\s]+)"?/.exec(line);
  if (!m) return false;
  if (m[1] === 'COMMENT' && !line.includes(' - EXTENSION ')) return false;
  return names.has(m[2]!);
}

/**
 * The archive's table of contents without the entries of `skip`, written to a
 * file for pg_restore -L; undefined when nothing is skipped (the archive as is).
 */
export async function restoreListWithout(
  cfg: Config,
  archive: string,
  skip: readonly string[],
): Promise<{ file: string; skipped: string[]; remove: () => void } | undefined> {
  if (skip.length === 0) return undefined;
  const names = new Set(skip);
  const { stdout } = await runTool(cfg, 'pg_restore', ['--list', archive]);
  const skipped: string[] = [];
  const kept = stdout.split('\n').filter((line) => {
    if (!isEntryOf(line, names)) return true;
    skipped.push(line.trim());
    return false;
  });
  if (skipped.length === 0) return undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'dbm-restore-'));
  const file = path.join(dir, 'toc.list');
  writeFileSync(file, kept.join('\n'));
  return { file, skipped, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
