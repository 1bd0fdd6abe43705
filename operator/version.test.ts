import { readFileSync } from 'node:fs';
import { operatorVersion } from './version.js';

describe('operatorVersion', () => {
  it("is the package's version, found from the source directory", () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(operatorVersion()).toBe(pkg.version);
  });
  it('is "unknown" where no package.json of the operator is found', () => {
    expect(operatorVersion('/')).toBe('unknown');
  });
});
