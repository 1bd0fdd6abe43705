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

export function instanceOf(s: Session, name: string): MigrationInstance | undefined {
  return (s.ds.migrations as MigrationInstance[]).find((i) => (i.name ?? i.constructor.name) === name);
}

/** As migrate and revert run it: TRANSACTION_MODE=all in one transaction; each/none honour `transaction`. */
export function runsInTransaction(cfg: Config, inst: MigrationInstance | undefined): boolean {
  return cfg.TRANSACTION_MODE === 'all' || (inst?.transaction ?? cfg.TRANSACTION_MODE === 'each');
}
