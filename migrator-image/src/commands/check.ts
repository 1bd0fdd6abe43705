// check: the pending migrations, the SQL each would run (captured by running
// up() inside one transaction that is always rolled back), lint findings and
// the plan hash approvals name. The database is left as it was.
// Caveat: sequences advanced by captured INSERTs stay advanced (nextval is not
// transactional), and a migration that bypasses its QueryRunner (e.g.
// dataSource.query) would escape the transaction.
import { createHash } from 'node:crypto';
import type { QueryRunner } from 'typeorm';
import type { JobResult, PlanRecord } from '../../../crds/job-result.js';
import type { Config } from '../config.js';
import { lintSql, newLintContext } from '../lint/index.js';
import { log } from '../log.js';
import { executorFor, openSession } from '../session.js';

export async function check(cfg: Config, res: JobResult): Promise<void> {
  const s = await openSession(cfg, { lock: true });
  try {
    const pending = await executorFor(s).getPendingMigrations();
    const plan: PlanRecord = { pending: pending.map((m) => m.name), hash: '', findings: [], notCaptured: [] };
    res.plan = plan;
    const volatile = new Set(
      (
        (await s.qr.query(`SELECT DISTINCT proname FROM pg_proc WHERE provolatile = 'v'`)) as Array<{
          proname: string;
        }>
      ).map((r) => r.proname),
    );
    const captured = new Map<string, string[]>();
    const qr: QueryRunner = s.qr;
    const original = qr.query;
    let sink: string[] | undefined;
    qr.query = function (this: QueryRunner, ...args: Parameters<QueryRunner['query']>) {
      if (sink && typeof args[0] === 'string') sink.push(args[0]);
      return original.apply(this, args);
    } as QueryRunner['query'];
    let failure: unknown;
    await qr.startTransaction();
    try {
      for (const m of pending) {
        const inst = m.instance;
        if (!inst) continue;
        if (inst.transaction === false) {
          plan.notCaptured.push({
            migration: m.name,
            reason: 'transaction = false: it cannot run inside the rolled-back capture transaction',
          });
          continue;
        }
        sink = [];
        captured.set(m.name, sink);
        try {
          await inst.up(qr);
        } catch (err) {
          failure = Object.assign(err as object, { migration: m.name });
          break;
        } finally {
          sink = undefined;
        }
      }
    } finally {
      await qr.rollbackTransaction();
      qr.query = original;
    }
    const h = createHash('sha256');
    // Captured migrations run inside TypeORM's transaction unless the mode is `none`.
    const ctx = newLintContext(volatile.size > 0 ? volatile : undefined, {
      implicitTransaction: cfg.TRANSACTION_MODE !== 'none',
    });
    for (const m of pending) {
      const sqls = captured.get(m.name);
      h.update(`-- ${m.name}\n`);
      if (!sqls) {
        h.update('-- not captured\n');
        continue;
      }
      for (const sql of sqls) h.update(sql.trim() + ';\n');
      log.info({ migration: m.name, sql: sqls }, 'captured SQL');
      plan.findings.push(...(await lintSql(m.name, sqls, ctx)));
    }
    if (ctx.ignored.length > 0) plan.ignored = ctx.ignored;
    plan.hash = h.digest('hex');
    log.info(
      { pending: plan.pending.length, findings: plan.findings.length, hash: plan.hash },
      'check finished',
    );
    if (failure) throw failure;
  } finally {
    await s.close();
  }
}
