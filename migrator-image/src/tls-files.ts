// libpq (pg_dump, pg_restore, psql) refuses a client key that others can read:
// owned by the process user it must be 0600 or less, owned by root 0640 or less.
// How a mounted Secret's file ends up depends on the kubelet (defaultMode, the
// Pod's fsGroup, runAsUser), so a key libpq would refuse is copied once into a
// private file of this process; node-postgres reads the original's content.
import { copyFileSync, chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether libpq accepts this key file as it is (its own check, fe-secure-openssl.c). */
export function libpqAcceptsKey(mode: number, uid: number, euid: number): boolean {
  if (uid === euid) return (mode & 0o077) === 0;
  if (uid === 0) return (mode & 0o137) === 0;
  return false;
}

const copies = new Map<string, string>();

/** The key file to hand to libpq: the original when it would accept it, else a private 0600 copy. */
export function libpqKeyFile(file: string): string {
  const known = copies.get(file);
  if (known) return known;
  const st = statSync(file);
  const euid = process.geteuid?.() ?? st.uid;
  if (libpqAcceptsKey(st.mode, st.uid, euid)) return file;
  const dir = mkdtempSync(join(tmpdir(), 'dbm-sslkey-'));
  const copy = join(dir, 'client.key');
  copyFileSync(file, copy);
  chmodSync(copy, 0o600);
  // The Job's /tmp is an emptyDir that ends with the Pod; a local run cleans up.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  copies.set(file, copy);
  return copy;
}
