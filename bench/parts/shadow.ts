// The check's private server start-up: initdb at every check (what the code did
// before), or a copy of the data directory the migrator image prepares at build
// time (SHADOW_TEMPLATE_DIR). Here the template is made once with the same
// initdb options; each side starts a server, waits until it accepts
// connections and stops it.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initTemplate, installedMajors, startShadow } from '../../migrator-image/src/shadow/server.js';
import { interleave, type Result } from '../lib/stats.js';

export async function benchShadowStart(runs: number, shadowBin?: string): Promise<Result[]> {
  const binDir = shadowBin || `/usr/lib/postgresql/${installedMajors().pop()}/bin`;
  const parent = mkdtempSync(path.join(tmpdir(), 'dbm-bench-template-'));
  try {
    if (process.getuid?.() === 0) {
      const id = (flag: string) =>
        Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(parent, id('-u'), id('-g'));
    }
    const template = path.join(parent, 'pgdata-template');
    await initTemplate(binDir, template);
    const side = (label: string, from: string) => ({
      label,
      measure: async () => {
        const s = await startShadow({ binDir, template: from });
        if (s.dataDir !== (from ? 'template' : 'initdb'))
          throw new Error(`${label}: started from ${s.dataDir}`);
        await s.stop();
        return s.startMs ?? 0;
      },
    });
    return [
      await interleave(
        'shadow server start-up (to accepting connections)',
        'ms',
        runs,
        [side('initdb', ''), side('template copy', template)],
        `shadow server ${path.basename(path.dirname(binDir))}`,
      ),
    ];
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}
