// What a person sees of the API in a real cluster: `kubectl explain` of every
// object in spec and status (each prints its fields with their descriptions),
// and the columns of `kubectl get dbm` with and without -o wide.
import { buildCrd } from '../../crds/crd.js';
import {
  baseResource,
  clients,
  createNamespace,
  createResource,
  deleteNamespace,
  ensureCrd,
  kubectl,
  uniqueName,
} from './harness.js';

type Node = { type?: string; properties?: Record<string, Node>; items?: Node };

/** Dotted paths (kubectl explain's syntax) of every object with fields, arrays of objects included. */
function objectPaths(node: Node, path: string): string[] {
  const target = node.type === 'array' && node.items ? node.items : node;
  if (!target.properties) return [];
  return [path, ...Object.entries(target.properties).flatMap(([k, v]) => objectPaths(v, `${path}.${k}`))];
}

const c = clients();
const ns = uniqueName('it-explain');

beforeAll(async () => {
  await ensureCrd(c);
  await createNamespace(c, ns);
}, 120_000);

afterAll(async () => {
  await deleteNamespace(c, ns);
});

it('kubectl explain prints a description for every field of spec and status', () => {
  const schema = (buildCrd() as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } }).spec
    .versions[0]!.schema.openAPIV3Schema;
  const paths = [
    ...objectPaths(schema.properties!.spec!, 'dbm.spec'),
    ...objectPaths(schema.properties!.status!, 'dbm.status'),
  ];
  expect(paths).toEqual(expect.arrayContaining(['dbm.spec.jobTemplate', 'dbm.status.plan.findings']));
  const undescribed: string[] = [];
  for (const path of paths) {
    const out = kubectl(['explain', path]);
    expect([path, out.status, out.stderr]).toEqual([path, 0, '']);
    // Each field is printed as "  name\t<type>" followed by its description lines.
    const blocks = out.stdout.split(/\n(?= {2}\S+\t<)/).slice(1);
    for (const b of blocks)
      if (b.includes('<no description>')) undescribed.push(`${path}.${b.trim().split('\t')[0]}`);
    if (out.stdout.includes('<no description>') && !blocks.length) undescribed.push(path);
  }
  expect(undescribed).toEqual([]);
}, 300_000);

it('kubectl get dbm shows Ready, Phase, Applied, Age; -o wide adds Target and Reason', async () => {
  await createResource(c, baseResource('shop', ns, 'shop'));
  const plain = kubectl(['get', 'dbm', '-n', ns]);
  expect(plain.status).toBe(0);
  expect(plain.stdout.split('\n')[0]).toMatch(/^NAME\s+READY\s+PHASE\s+APPLIED\s+AGE$/);
  const wide = kubectl(['get', 'dbm', '-n', ns, '-o', 'wide']);
  expect(wide.stdout.split('\n')[0]).toMatch(
    /^NAME\s+READY\s+PHASE\s+APPLIED\s+TARGET\s+REASON\s+BACKUP\s+AGE$/,
  );
}, 120_000);
