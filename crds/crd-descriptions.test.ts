// `kubectl explain dbm.spec` / `dbm.status` print a field's description from the
// CRD's schema: a field without one reads `<no description>`, which is where a
// person looks for what to write (or copy, as status.plan.hash to approve).
import { buildCrd } from './crd.js';

type Node = {
  description?: string;
  properties?: Record<string, Node>;
  items?: Node;
  additionalProperties?: Node | boolean;
};

/** The path of every property (at any depth, through arrays and maps) that has no description. */
export function undescribed(node: Node, path: string): string[] {
  const missing: string[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const at = `${path}.${name}`;
    if (!child.description?.trim()) missing.push(at);
    missing.push(...undescribed(child, at));
  }
  if (node.items) missing.push(...undescribed(node.items, `${path}[]`));
  if (node.additionalProperties && typeof node.additionalProperties === 'object')
    missing.push(...undescribed(node.additionalProperties, `${path}{}`));
  return missing;
}

const schema = (buildCrd() as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } }).spec
  .versions[0]!.schema.openAPIV3Schema;

describe('CRD descriptions', () => {
  // metadata is left out: the API server refuses a CRD that says anything about it but its type,
  // and kubectl explain describes it from ObjectMeta.
  it.each(['apiVersion', 'kind', 'spec', 'status'])('every field under %s has a description', (top) => {
    const node = schema.properties![top]!;
    expect([...(node.description ? [] : [top]), ...undescribed(node, top)]).toEqual([]);
  });

  it('finds a field without a description (the walk itself works)', () => {
    expect(
      undescribed(
        {
          properties: {
            a: { description: 'x', items: { properties: { b: {} } } },
            c: { additionalProperties: { properties: { d: {} } } },
          },
        },
        'spec',
      ),
    ).toEqual(['spec.a[].b', 'spec.c', 'spec.c{}.d']);
  });
});
