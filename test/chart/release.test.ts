// The release publishes exactly what the chart installs by default, and the
// GitHub workflows pass actionlint. No cluster needed (in the `static` project
// because that is where the chart's tests live).
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, REPO_ROOT } from './tools.js';

jest.setTimeout(10 * 60_000); // the first actionlint run builds it from its Go module

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  jobs: Record<
    string,
    { steps: Step[]; strategy?: { matrix?: { include?: Record<string, string>[] } } } & Record<
      string,
      unknown
    >
  >;
}
interface Values {
  image: { repository: string; tag: string };
  migratorImage: { repository: string; tag: string };
}

const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;
const release = readYaml<Workflow>(join(REPO_ROOT, '.github', 'workflows', 'release.yml'));
const values = readYaml<Values>(join(CHART_DIR, 'values.yaml'));
const chart = readYaml<{ version: string; appVersion: string; home: string }>(join(CHART_DIR, 'Chart.yaml'));
const allSteps = Object.values(release.jobs).flatMap((j) => j.steps);

/** The GitHub owner the project lives under, from the chart's home URL. */
const owner = /^https:\/\/github\.com\/([^/]+)\//.exec(chart.home)?.[1];

/** `ghcr.io/${{ github.repository_owner }}` with the project's owner filled in. */
function registry(): string {
  const r = release.env?.REGISTRY;
  if (!r) throw new Error('release.yml has no env.REGISTRY');
  return r.replace(/\$\{\{\s*github\.repository_owner\s*\}\}/, owner ?? '<no owner>');
}

describe('the release workflow', () => {
  it('runs on v* tags with the permissions to push, sign and release', () => {
    expect(release.on).toEqual({ push: { tags: ['v*'] } });
    expect(release.permissions).toEqual({ contents: 'write', packages: 'write', 'id-token': 'write' });
  });

  it('publishes the images the chart defaults to, from the two Dockerfiles', () => {
    expect(owner).toBe('dbmigrate');
    const include = release.jobs.images?.strategy?.matrix?.include ?? [];
    const published = Object.fromEntries(include.map((m) => [m.dockerfile, `${registry()}/${m.image}`]));
    expect(published).toEqual({
      Dockerfile: values.image.repository,
      'migrator-image/Dockerfile': values.migratorImage.repository,
    });
    expect(values.image.repository).toBe('ghcr.io/dbmigrate/database-migration-operator');
    expect(values.migratorImage.repository).toBe('ghcr.io/dbmigrate/database-migration-migrator');
  });

  it("tags the images with the version that the chart's default tag (appVersion) names", () => {
    // The tag is empty, so the chart uses .Chart.AppVersion; the workflow refuses a
    // git tag that differs from it and tags images with the git tag's semver.
    expect(values.image.tag).toBe('');
    expect(values.migratorImage.tag).toBe('');
    const helpers = readFileSync(join(CHART_DIR, 'templates', '_helpers.tpl'), 'utf8');
    expect(helpers).toContain('(default .Chart.AppVersion .Values.image.tag)');
    expect(helpers).toContain('(default .Chart.AppVersion .Values.migratorImage.tag)');
    expect(chart.appVersion).toBe(chart.version);
    const versionCheck = release.jobs.version?.steps.map((s) => s.run ?? '').join('\n') ?? '';
    expect(versionCheck).toContain('appVersion');
    const meta = allSteps.find((s) => s.uses?.startsWith('docker/metadata-action@'));
    expect(String(meta?.with?.tags)).toContain('type=semver,pattern={{version}}');
  });

  it('builds both platforms with SBOMs, signs by digest, and pushes the chart to OCI', () => {
    const build = allSteps.find((s) => s.uses?.startsWith('docker/build-push-action@'));
    expect(build?.with).toMatchObject({
      context: '.',
      platforms: 'linux/amd64,linux/arm64',
      push: true,
      sbom: true,
    });
    for (const action of [
      'docker/setup-qemu-action@',
      'docker/setup-buildx-action@',
      'sigstore/cosign-installer@',
      'anchore/sbom-action@',
    ]) {
      expect(allSteps.some((s) => s.uses?.startsWith(action))).toBe(true);
    }
    const runs = allSteps.map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('cosign sign --yes "${IMAGE}@${DIGEST}"');
    expect(runs).toMatch(/helm push .* "oci:\/\/\$registry\/\$CHART_REPOSITORY"/);
    expect(release.env?.CHART_REPOSITORY).toBe('charts');
  });
});

describe('the GitHub workflows', () => {
  it('pass actionlint (scripts/actionlint.sh)', () => {
    const r = spawnSync('bash', ['scripts/actionlint.sh'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 9 * 60_000,
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`actionlint exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    expect(r.status).toBe(0);
  });

  it('CI runs the README test command on pull requests and pushes to main, with the cache', () => {
    const ci = readYaml<Workflow>(join(REPO_ROOT, '.github', 'workflows', 'ci.yml'));
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    expect(ci.on.push).toEqual({ branches: ['main'] });
    const steps = Object.values(ci.jobs).flatMap((j) => j.steps);
    expect(steps.some((s) => /sudo -E .*npm test$/.test(s.run ?? ''))).toBe(true);
    const cache = steps.find((s) => s.uses?.startsWith('actions/cache@'));
    expect(cache?.with?.path).toBe('~/.cache/database-migration-operator');
  });
});
