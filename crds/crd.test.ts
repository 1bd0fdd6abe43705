import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildCrd } from './crd.js';
import { renderChartCrdTemplate, renderCrdYaml } from './render.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputs: [string, () => string][] = [
  ['crds/generated/databasemigrations.dbmigrate.io.yaml', renderCrdYaml],
  [
    'charts/database-migration-operator/templates/crds/databasemigrations.dbmigrate.io.yaml',
    renderChartCrdTemplate,
  ],
];

describe('generated CRD', () => {
  it.each(outputs)('%s is up to date with the zod schema (run `npm run crds:generate`)', (file, render) => {
    expect(readFileSync(join(root, file), 'utf8')).toBe(render());
  });

  it('the chart template carries the same spec as the plain YAML', () => {
    const plain = parse(renderCrdYaml()) as { spec: unknown };
    // The template's spec is plain YAML below its Helm-templated metadata.
    const tpl = renderChartCrdTemplate();
    const spec = parse(tpl.slice(tpl.indexOf('\nspec:\n') + 1, tpl.lastIndexOf('{{- end }}'))) as {
      spec: unknown;
    };
    expect(spec.spec).toEqual(plain.spec);
  });

  it('is structural: no additionalProperties:false, every object typed', () => {
    const walk = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      expect([path, n.additionalProperties]).not.toEqual([path, false]);
      if (n.properties) expect([path, n.type]).toEqual([path, 'object']);
      for (const [k, v] of Object.entries(n)) walk(v, `${path}.${k}`);
    };
    const crd = parse(renderCrdYaml()) as { spec: { versions: { schema: unknown }[] } };
    walk(crd.spec.versions[0]!.schema, '');
  });

  it('has the status subresource, printer columns and short name', () => {
    const crd = buildCrd() as {
      spec: {
        names: { shortNames: string[] };
        versions: {
          subresources: unknown;
          additionalPrinterColumns: { name: string; priority?: number }[];
        }[];
      };
    };
    expect(crd.spec.names.shortNames).toEqual(['dbm']);
    expect(crd.spec.versions[0]!.subresources).toEqual({ status: {} });
    expect(crd.spec.versions[0]!.additionalPrinterColumns.map((c) => c.name)).toEqual([
      'Ready',
      'Phase',
      'Applied',
      'Progress',
      'Target',
      'Reason',
      'Backup',
      'Age',
    ]);
    // Only these show without -o wide.
    expect(
      crd.spec.versions[0]!.additionalPrinterColumns.filter((c) => !c.priority).map((c) => c.name),
    ).toEqual(['Ready', 'Phase', 'Applied', 'Progress', 'Age']);
  });

  it('keeps conditions as a list map keyed by type, as metav1.Condition', () => {
    type Node = { properties: Record<string, Node>; [k: string]: unknown };
    const crd = buildCrd() as {
      spec: { versions: { schema: { openAPIV3Schema: Node } }[] };
    };
    const conditions = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.status!.properties.conditions!;
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect((conditions.items as { required: string[] }).required).toContain('type');
  });
});
