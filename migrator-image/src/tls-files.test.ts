import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libpqAcceptsKey, libpqKeyFile } from './tls-files.js';

describe('client key files for libpq', () => {
  it("follows libpq's rule: own file 0600 or less, root's 0640 or less", () => {
    expect(libpqAcceptsKey(0o100600, 10001, 10001)).toBe(true);
    expect(libpqAcceptsKey(0o100640, 10001, 10001)).toBe(false);
    // A Secret volume with defaultMode 0400 and an fsGroup: root:fsGroup 0440.
    expect(libpqAcceptsKey(0o100440, 0, 10001)).toBe(true);
    expect(libpqAcceptsKey(0o100644, 0, 10001)).toBe(false);
    expect(libpqAcceptsKey(0o100600, 2000, 10001)).toBe(false);
  });

  it('hands a refused key over as a private 0600 copy with the same content, once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbm-keytest-'));
    const key = join(dir, 'tls.key');
    writeFileSync(key, 'KEY');
    chmodSync(key, 0o644);
    const copy = libpqKeyFile(key);
    expect(copy).not.toBe(key);
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    expect(readFileSync(copy, 'utf8')).toBe('KEY');
    expect(libpqKeyFile(key)).toBe(copy);
    const fine = join(dir, 'ok.key');
    writeFileSync(fine, 'KEY', { mode: 0o600 });
    expect(libpqKeyFile(fine)).toBe(fine);
  });
});
