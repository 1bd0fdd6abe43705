// A step takes no arguments: `migrator migrate --dry-run` is refused (exit 2,
// naming the argument) instead of migrating for real with the flag ignored.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { appliedNames, createDatabase, migrationsDir, ROOT } from './helpers.js';

it('migrator migrate --dry-run is refused and applies nothing', async () => {
  const db = await createDatabase('args');
  const r = spawnSync(
    path.join(ROOT, 'node_modules/.bin/node'),
    ['--import', 'tsx', path.join(ROOT, 'migrator-image/src/main.ts'), 'migrate', '--dry-run'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PGDATABASE: db,
        MIGRATIONS_DIR: migrationsDir('base'),
        RESULT_PATH: '/dev/null',
      },
      encoding: 'utf8',
    },
  );
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('migrator migrate: unexpected argument "--dry-run"');
  expect(await appliedNames(db)).toEqual([]);
}, 60_000);
