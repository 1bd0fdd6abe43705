// Writes the CRD generated from the zod schemas: as plain YAML under
// crds/generated (for kubectl apply) and as a template of the Helm chart
// (templates/crds/, so helm upgrade upgrades it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderChartCrdTemplate, renderCrdYaml } from './render.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CRD_OUTPUTS: [string, () => string][] = [
  [join(root, 'crds/generated/databasemigrations.dbmigrate.io.yaml'), renderCrdYaml],
  [
    join(root, 'charts/database-migration-operator/templates/crds/databasemigrations.dbmigrate.io.yaml'),
    renderChartCrdTemplate,
  ],
];

for (const [path, render] of CRD_OUTPUTS) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, render());
  console.log(`wrote ${path}`);
}
