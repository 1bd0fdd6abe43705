// Every manifest of examples/install/ (the README's install guide) is
// valid against the CRD the chart installs: a server-side dry run on the local
// cluster (the `static` project's global setup starts it and applies the CRD),
// so the API server's own validation (OpenAPI schema, CEL rules, strict field
// validation) judges them. Nothing is created. The operator's own zod schema
// must accept them too (that part needs no cluster).
import { jest } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseMigrationSpec } from '../../crds/database-migration.js';
import { validateForInstall } from '../../operator/job-policy.js';
import {
  KUBECONFIG,
  REPO_ROOT,
  clusterReachable,
  clusterTest,
  helmTools,
  parseYamlDocs,
  run,
} from './tools.js';

jest.setTimeout(180_000);

const EXAMPLES_DIR = join(REPO_ROOT, 'examples', 'install');
const EXAMPLES = ['cloudnativepg.yaml', 'cloudsql.yaml', 'kind.yaml', 'rds.yaml'];

const clusterIt = clusterTest(clusterReachable());

it('has the four install examples', () => {
  expect(readdirSync(EXAMPLES_DIR).sort()).toEqual(EXAMPLES);
});

describe.each(EXAMPLES)('examples/install/%s', (file) => {
  it('holds one DatabaseMigration that the operator accepts (its zod schema and the default install)', () => {
    const docs = parseYamlDocs(readFileSync(join(EXAMPLES_DIR, file), 'utf8'));
    const dms = docs.filter((d) => d.kind === 'DatabaseMigration');
    expect(dms).toHaveLength(1);
    const parsed = DatabaseMigrationSpec.safeParse(dms[0]?.spec);
    expect(parsed.error?.issues ?? []).toEqual([]);
    // And the default install's policy (the Job Pods' service account): it runs as written.
    expect(validateForInstall(dms[0]?.spec, {})).toMatchObject({ ok: true });
  });

  clusterIt('passes a server-side dry run with strict field validation', () => {
    const r = run(helmTools().kubectl, [
      '--kubeconfig',
      KUBECONFIG,
      'apply',
      '--dry-run=server',
      '--validate=strict',
      '--namespace',
      'default',
      '-f',
      join(EXAMPLES_DIR, file),
    ]);
    if (r.status !== 0) throw new Error(`kubectl apply --dry-run=server -f ${file}:\n${r.stderr}${r.stdout}`);
    expect(r.stdout).toMatch(
      /databasemigration\.dbmigrate\.io\/\S+ (created|configured|unchanged) \(server dry run\)/,
    );
  });
});
