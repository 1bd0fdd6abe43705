// The down() proof, in one pass back: each down() in reverse must bring the
// catalog back to what it was before its up() (one catalog query per
// migration, compared with the one the recorder took before the up()); then
// the ups run again, forward.
import type { MigrationExecutor, QueryRunner } from 'typeorm';
import type { Finding } from '../../../crds/job-result.js';
import type { Config } from '../config.js';
import { migrationsTable, type Session } from '../session.js';
import { describeDiff, diffCatalog, type CatalogDiff } from './catalog.js';
import { irreversible, minus } from './findings.js';
import { instanceOf, runsInTransaction } from './instances.js';
import type { Recorder } from './recorder.js';

export type Reversibility = 'proven' | 'failed';

export async function proveDowns(
  cfg: Config,
  sh: Session,
  ex: MigrationExecutor,
  original: QueryRunner['query'],
  rec: Recorder,
  pending: readonly string[],
  findings: Finding[],
): Promise<Reversibility> {
  const qr = sh.qr;
  let reversibility: Reversibility = 'proven';
  let carried: CatalogDiff = { added: [], removed: [] };
  let downFailed = false;
  for (const name of [...pending].reverse()) {
    const expected = rec.before.get(name);
    const inst = instanceOf(sh, name);
    const tx = runsInTransaction(cfg, inst);
    try {
      if (!inst) throw new Error('its class is not loaded');
      if (tx) await qr.startTransaction();
      await inst.down(qr);
      await original.call(qr, `DELETE FROM ${migrationsTable(cfg)} WHERE name = $1`, [name]);
      if (tx) await qr.commitTransaction();
    } catch (err) {
      if (tx && qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      const after = downFailed ? ' (tried after a later down() failed)' : '';
      downFailed = true;
      findings.push(
        irreversible(name, `down() of ${name} fails${after}: ${(err as Error).message.split('\n')[0]}`),
      );
      reversibility = 'failed';
      // Every down() is tried: what this one left stays, and the earlier ones are judged apart from it.
      if (expected) carried = diffCatalog(expected, await rec.snapshot());
      continue;
    }
    const upSql = rec.captured.get(name) ?? [];
    const downSql = rec.downCaptured.get(name) ?? [];
    if (downSql.length === 0 && upSql.length > 0) {
      findings.push(
        irreversible(
          name,
          `down() of ${name} runs no SQL: a revert would record it as undone and leave its changes`,
        ),
      );
      reversibility = 'failed';
    }
    if (!expected) continue;
    const diff = diffCatalog(expected, await rec.snapshot());
    const own = minus(diff, carried);
    if (own.added.length + own.removed.length > 0) {
      if (downSql.length > 0)
        findings.push(
          irreversible(name, `down() of ${name} leaves a different schema: ${describeDiff(own)}`),
        );
      reversibility = 'failed';
    }
    carried = diff;
  }
  if (reversibility === 'proven') {
    // The way forward again after the way back: up() after down() must run.
    try {
      await ex.executePendingMigrations();
    } catch (err) {
      findings.push(
        irreversible(
          (err as { migration?: string }).migration ?? pending[0] ?? '',
          `up() fails when re-applied after the down()s: ${(err as Error).message.split('\n')[0]}`,
        ),
      );
      reversibility = 'failed';
    }
  }
  return reversibility;
}
