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
  waitFor,
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

it('kubectl explain prints a description for every field of spec and status', async () => {
  await ensureCrd(c); // again: another checkout's suite may have applied its own version
  const schema = (buildCrd() as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } }).spec
    .versions[0]!.schema.openAPIV3Schema;
  const paths = [
    ...objectPaths(schema.properties!.spec!, 'dbm.spec'),
    ...objectPaths(schema.properties!.status!, 'dbm.status'),
  ];
  expect(paths).toEqual(expect.arrayContaining(['dbm.spec.jobTemplate', 'dbm.status.plan.findings']));
  const undescribedIn = (path: string): string[] => {
    const out = kubectl(['explain', path]);
    expect([path, out.status, out.stderr]).toEqual([path, 0, '']);
    // Each field is printed as "  name\t<type>" followed by its description lines.
    const blocks = out.stdout.split(/\n(?= {2}\S+\t<)/).slice(1);
    const missing = blocks
      .filter((b) => b.includes('<no description>'))
      .map((b) => `${path}.${b.trim().split('\t')[0]}`);
    return missing.length || !out.stdout.includes('<no description>') ? missing : [path];
  };
  const undescribed: string[] = [];
  for (const path of paths) {
    let missing = undescribedIn(path);
    // Another checkout's suite may have applied its own CRD meanwhile: apply ours and look again.
    for (let i = 0; missing.length && i < 3; i++) {
      await ensureCrd(c);
      missing = undescribedIn(path);
    }
    undescribed.push(...missing);
  }
  expect(undescribed).toEqual([]);
}, 300_000);

it('kubectl get dbm shows Ready, Phase, Applied, Progress, Age; -o wide adds Target and Reason', async () => {
  await createResource(c, baseResource('shop', ns, 'shop'));
  // The CRD is cluster-wide: a suite of another checkout may apply its own version meanwhile,
  // so this one is applied again right before each look (and the look retried).
  const header = async (args: string[]) =>
    waitFor(`kubectl ${args.join(' ')} to print this CRD's columns`, async () => {
      await ensureCrd(c);
      const out = kubectl(['get', 'dbm', '-n', ns, ...args]);
      expect(out.status).toBe(0);
      const head = out.stdout.split('\n')[0]!;
      return head.includes('READY') ? head : undefined;
    });
  expect(await header([])).toMatch(/^NAME\s+READY\s+PHASE\s+APPLIED\s+PROGRESS\s+AGE$/);
  expect(await header(['-o', 'wide'])).toMatch(
    /^NAME\s+READY\s+PHASE\s+APPLIED\s+PROGRESS\s+TARGET\s+REASON\s+BACKUP\s+AGE$/,
  );
}, 120_000);
