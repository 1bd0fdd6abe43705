// The check's view of the loaded migrations: an instance by name, whether it
// runs in a transaction as migrate and revert would run it, and raw rows from
// a QueryRunner whose query() the check wraps.
import type { QueryRunner } from 'typeorm';
import type { Config } from '../config.js';
import type { Session } from '../session.js';
import type { Rows } from './schema.js';

export type MigrationInstance = Session['ds']['migrations'][number] & { name?: string };

export const rowsOf =
  (qr: QueryRunner, query: QueryRunner['query']): Rows =>
  async (sql, params) =>
    (await query.call(qr, sql, params)) as Array<Record<string, unknown>>;

const byName = new WeakMap<Session, Map<string, MigrationInstance>>();

/** The loaded instance of a migration; a map per session (a check asks for each migration several times). */
export function instanceOf(s: Session, name: string): MigrationInstance | undefined {
  let map = byName.get(s);
  if (!map) {
    map = new Map();
    // The first of a name wins, as a find() over the list would give it.
    for (const i of s.ds.migrations as MigrationInstance[]) {
      const n = i.name ?? i.constructor.name;
      if (!map.has(n)) map.set(n, i);
    }
    byName.set(s, map);
  }
  return map.get(name);
}

/** As migrate and revert run it: TRANSACTION_MODE=all in one transaction; each/none honour `transaction`. */
export function runsInTransaction(cfg: Config, inst: MigrationInstance | undefined): boolean {
  return cfg.TRANSACTION_MODE === 'all' || (inst?.transaction ?? cfg.TRANSACTION_MODE === 'each');
}
