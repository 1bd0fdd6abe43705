// Writes the CRD YAML generated from the zod schemas: once under crds/generated
// (for kubectl apply) and once in the Helm chart's crds/ directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdYaml } from './render.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CRD_OUTPUTS = [
  join(root, 'crds/generated/databasemigrations.dbmigrate.io.yaml'),
  join(root, 'charts/database-migration-operator/crds/databasemigrations.dbmigrate.io.yaml'),
];

const yaml = renderCrdYaml();
for (const path of CRD_OUTPUTS) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, yaml);
  console.log(`wrote ${path}`);
}
