// check: the plan, proven on a shadow database, never on the target. The
// target gives its pending migrations, its schema (`pg_dump --schema-only`),
// the rows of its migrations table and its statistics; a throwaway PostgreSQL
// in this Pod (shadow/server.ts) gets that schema, and the pending migrations
// run there for real, in the run's transaction mode, with a trace per
// statement (locks, rewrites). Then each down() runs in reverse and the catalog
// must come back to what it was before that migration; then the ups run again.
// Findings: lint rules on the captured SQL, the trace joined with the target's
// real sizes, irreversible down()s, and compatibility queries that the
// migrated schema breaks.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding, JobResult, PlanRecord } from '../../../crds/job-result.js';
import { planChecksums, planDigest } from '../checksums.js';
import { treeDigest } from '../tree-digest.js';
import { restoreScopeFindings } from '../shadow/scope.js';
import type { Config } from '../config.js';
import { lintSql, newLintContext, seedSchema } from '../lint/index.js';
import { log } from '../log.js';
import { MigratorError } from '../result.js';
import { scrubSql } from '../scrub.js';
import { executorFor, migrationsTable, openSession, type Session } from '../session.js';
import { instanceOf, rowsOf, runsInTransaction, type MigrationInstance } from '../shadow/instances.js';
import { captureTarget, dataFile, hasCapture, readCapture, statsOf } from '../shadow/capture.js';
import { childError, runCheckChild } from '../shadow/child.js';
import { finishShadow, prepareShadow, shadowConfig, withoutOwnership } from '../shadow/prepare.js';
import { loadSchema } from '../shadow/schema.js';
import { failedOnGap, gapFindings, schemaGaps, schemaOf, type LocatedError } from '../shadow/gaps.js';
import { loadSeed, seedFindings } from '../shadow/seed.js';
import { runningAppEntityFindings } from '../shadow/entities.js';
import { incompleteFinding, modeRefusal, needsData, planHash, rehearsalFailed } from '../shadow/findings.js';
import { externalShadowOf, openExternalShadow } from '../shadow/external.js';
import { chooseBinDir, startShadow, type ShadowServer } from '../shadow/server.js';
import { Tracer, traceFindings } from '../shadow/trace.js';
import { Recorder } from '../shadow/recorder.js';
import { proveDowns } from '../shadow/reverse.js';

/**
 * The check. With a capture in CAPTURE_DIR (the Job's check container, or the
 * child below) it runs the migrations on the shadow. Otherwise (by hand, in an
 * app's CI) it captures the target itself and runs the rest in a child process
 * that holds none of the target's credentials.
 */
export async function check(cfg: Config, res: JobResult): Promise<void> {
  if (hasCapture(cfg.CAPTURE_DIR)) return checkCaptured(cfg, res);
  const dir = mkdtempSync(join(cfg.SHADOW_DATA_DIR ?? tmpdir(), 'dbm-capture-'));
  try {
    const cap = await captureTarget(cfg, dir);
    res.database = cap.identity;
    const child = await runCheckChild(dir, process.env);
    if (child.plan) res.plan = child.plan;
    if (!child.ok) throw childError(child.error ?? { message: 'the check failed without saying why' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkCaptured(cfg: Config, res: JobResult): Promise<void> {
  const t0 = performance.now();
  const { capture: cap, schemaSql } = readCapture(cfg.CAPTURE_DIR ?? '');
  res.database = cap.identity;
  const stats = statsOf(cap);
  const volatile = new Set(cap.volatile);
  let shadow: ShadowServer | undefined;
  let sh: Session | undefined;
  try {
    const external = externalShadowOf(cfg);
    shadow = external
      ? await openExternalShadow(cfg, external, stats.major)
      : await startShadow({
          binDir: chooseBinDir(stats.major, cfg.SHADOW_PG_BIN_DIR),
          parentDir: cfg.SHADOW_DATA_DIR,
        });
    const prepared = await prepareShadow(cfg, shadow, cap);
    const admin = shadowConfig(cfg, shadow, prepared.database);
    // The rehearsal: the whole database (rows too) when the capture copied it; else the schema alone.
    const data = shadow.external ? undefined : dataFile(cfg.CAPTURE_DIR ?? '', cap);
    const located: LocatedError[] = [];
    const schemaErrors = await loadSchema(
      cfg,
      admin,
      data ? { file: data } : { sql: shadow.external ? withoutOwnership(schemaSql) : schemaSql },
      shadow.major,
      located,
    );
    const gaps = await schemaGaps(admin, cap, located);
    const seedErrors = data ? [] : await loadSeed(cfg, admin, cfg.CAPTURE_DIR ?? '', cap, shadow.major);
    await finishShadow(cfg, shadow, cap, prepared.database, data ? undefined : migrationsTable(cfg));
    // The migrations run as the target's role; a connection the migration code opens itself
    // (new pg.Client(), which reads PG*) reaches this private server, the only one this process knows.
    const scfg = shadowConfig(cfg, shadow, prepared.database, prepared.user);
    Object.assign(process.env, {
      PGHOST: scfg.PGHOST,
      PGPORT: String(scfg.PGPORT),
      PGUSER: scfg.PGUSER,
      PGDATABASE: scfg.PGDATABASE,
    });
    sh = await openSession(scfg, { lock: false });
    const pending = await executorFor(sh).getPendingMigrations();
    const plan: PlanRecord = { pending: pending.map((m) => m.name), hash: '', findings: [], notCaptured: [] };
    res.plan = plan;
    const h = createHash('sha256');
    if (pending.length > 0) {
      // What migrate will refuse to run if it differs; the hash an approval names covers the files too.
      plan.checksums = planChecksums(plan.pending, sh.byName);
      plan.checksumsDigest = planDigest(plan.pending, sh.byName);
      h.update(`-- files ${plan.checksumsDigest}\n`);
      // What the migrations may import (copyRoot's siblings) is part of what is approved.
      h.update(`-- tree ${treeDigest(cfg.MIGRATIONS_ROOT ?? cfg.MIGRATIONS_DIR ?? '.').digest}\n`);
    }
    if (pending.length === 0) {
      plan.hash = h.digest('hex');
      log.info('check finished: no pending migrations');
      return;
    }
    const qr = sh.qr;
    const original = qr.query;
    const direct = rowsOf(qr, original);
    log.info(
      {
        target: stats.serverVersion,
        shadowMajor: shadow.major,
        schemaErrors: schemaErrors.length,
        runsAs: prepared.user,
      },
      'shadow database ready',
    );

    // Capture and trace every statement a migration sends through its QueryRunner.
    const tracer = new Tracer(direct);
    const rec = new Recorder(tracer, direct);
    const { captured, downCaptured, durations } = rec;
    rec.wrapQuery(qr, original);
    rec.wrapMigrations(sh.ds.migrations as MigrationInstance[]);

    await tracer.prime();
    // Where the time went, for the summary line: before the plan, its ups, the down() proof, the rest.
    let mark = performance.now();
    const phases: Record<string, number> = { prepare: Math.round(mark - t0) };
    const phase = (name: string) => {
      phases[name] = Math.round(performance.now() - mark);
      mark = performance.now();
    };
    const ex = executorFor(sh);
    let failure: unknown;
    let stoppedEarly = false;
    try {
      await ex.executePendingMigrations();
    } catch (err) {
      const failed = pending.find((m) => captured.has(m.name) && !rec.done.has(m.name))?.name;
      failure = Object.assign(modeRefusal(err) ?? (err as object), failed ? { migration: failed } : {});
    }
    await tracer.settle().catch(() => undefined);
    phase('up');
    // A failure on a copy of the real rows blocks as production would fail; on the schema alone, one for
    // want of rows (a TypeError on an empty result) is "needs data"; a setting TypeORM refuses fails the check.
    const stopped =
      failure && !(failure instanceof MigratorError)
        ? ((await failedOnGap(failure, gaps, captured, tracer.statements, schemaOf(cfg))) ??
          (data ? rehearsalFailed : needsData)(failure, captured))
        : undefined;
    if (stopped) {
      plan.findings.push(stopped);
      [failure, stoppedEarly] = [undefined, true];
    }

    // Compatibility: what the running app version runs must still run on the migrated schema.
    if (!failure && !stoppedEarly)
      for (const [i, query] of cfg.COMPATIBILITY_QUERIES.entries()) {
        await qr.startTransaction();
        try {
          await original.call(qr, query);
        } catch (err) {
          plan.findings.push({
            rule: 'compatibility-query',
            category: 'backwardIncompatible',
            severity: 'error',
            migration: plan.pending[plan.pending.length - 1] ?? '',
            message: `spec.safety.compatibility.queries[${i}] fails after the migrations: ${(err as Error).message.split('\n')[0]}`,
            hint: 'Expand first (add, keep the old shape), migrate the app, contract in a later release.',
          });
        } finally {
          await qr.rollbackTransaction();
        }
      }

    if (!failure && !stoppedEarly && cfg.COMPATIBILITY_ENTITIES_DIR)
      plan.findings.push(
        ...(await runningAppEntityFindings(
          cfg.COMPATIBILITY_ENTITIES_DIR,
          direct,
          plan.pending[plan.pending.length - 1] ?? '',
          cfg.MIGRATIONS_SCHEMA,
        )),
      );

    // Reversibility: each down() in reverse must bring the catalog back to what it was before its up().
    const reversibility =
      failure || stoppedEarly
        ? 'skipped'
        : await proveDowns(cfg, sh, ex, original, rec, plan.pending, plan.findings);
    qr.query = original;
    phase('downAndUpAgain');

    // Lint the captured SQL; teach the linter the target's columns first (binary-coercible types).
    const ctx = newLintContext(volatile.size > 0 ? volatile : undefined, { implicitTransaction: true });
    await seedSchema(ctx, schemaSql.replace(/^\\.*$/gm, '')).catch((err: unknown) =>
      log.warn(
        { err: (err as Error).message.slice(0, 200) },
        'the schema dump did not parse; linting without it',
      ),
    );
    for (const m of pending) {
      const sqls = captured.get(m.name);
      if (!sqls) {
        plan.notCaptured.push({
          migration: m.name,
          reason: 'not reached: an earlier migration failed on the shadow',
        });
        continue;
      }
      // Each statement at debug level; a summary at info (a long plan's SQL is megabytes of log).
      if (log.isLevelEnabled('debug'))
        log.debug({ migration: m.name, sql: sqls.map(scrubSql) }, 'captured SQL');
      ctx.options.implicitTransaction = runsInTransaction(cfg, instanceOf(sh, m.name));
      plan.findings.push(...(await lintSql(m.name, sqls, ctx)));
    }
    log.info(
      {
        migrations: captured.size,
        statements: [...captured.values()].reduce((n, q) => n + q.length, 0),
        downStatements: [...downCaptured.values()].reduce((n, q) => n + q.length, 0),
      },
      'captured SQL (each statement at LOG_LEVEL=debug)',
    );
    plan.findings.push(...traceFindings(tracer.statements, stats));
    plan.findings.push(
      ...restoreScopeFindings(tracer.statements, cfg.RESTORE_SCHEMAS, cfg.MIGRATIONS_SCHEMA ?? 'public'),
    );
    // What a revert would run: reported (a revert drops what the up added), never blocking the deploy.
    const downCtx = newLintContext(volatile.size > 0 ? volatile : undefined, { implicitTransaction: true });
    const revertFindings: Finding[] = [];
    for (const m of [...pending].reverse()) {
      const sqls = downCaptured.get(m.name);
      if (!sqls || sqls.length === 0) continue;
      downCtx.options.implicitTransaction = runsInTransaction(cfg, instanceOf(sh, m.name));
      for (const f of await lintSql(m.name, sqls, downCtx))
        revertFindings.push({ ...f, message: `down(): ${f.message}` });
    }
    if (revertFindings.length > 0) plan.revertFindings = revertFindings;
    if (ctx.ignored.length > 0) plan.ignored = ctx.ignored;
    plan.findings.push(
      ...(await gapFindings(gaps, plan.pending, captured, tracer.statements, schemaOf(cfg), plan.findings)),
      ...incompleteFinding(schemaErrors.length, captured, tracer.statements.length, plan.pending),
      ...seedFindings(cap, seedErrors, plan.pending[plan.pending.length - 1] ?? ''),
    );
    // What an approval names: the files (one digest over the whole sorted list) and what was found
    // where, never the SQL text: a migration inlining a timestamp or a uuid gets the same hash each check.
    plan.hash = planHash(h, plan);
    plan.rehearsal = {
      onData: !!data,
      sizeBytes: cap.rehearsal.sizeBytes,
      ...(cap.rehearsal.note ? { note: cap.rehearsal.note } : {}),
      durationsMs: Object.fromEntries(
        plan.pending.filter((n) => durations.has(n)).map((n) => [n, durations.get(n)!]),
      ),
      totalMs: [...durations.values()].reduce((a, b) => a + b, 0),
    };
    plan.shadow = {
      targetVersion: stats.serverVersion,
      shadowMajor: shadow.major,
      ...(shadow.external ? { external: true } : {}),
      schemaErrors: schemaErrors.slice(0, 5).map((e) => e.slice(0, 200)),
      schemaErrorCount: schemaErrors.length,
      statementsTraced: tracer.statements.length,
      reversibility,
      durationMs: Math.round(performance.now() - t0),
    };
    // A summary: the findings themselves are in the full result, written once (main.ts).
    log.info(
      {
        pending: plan.pending.length,
        hash: plan.hash,
        shadow: plan.shadow,
        findings: plan.findings.length,
        revertFindings: revertFindings.length,
        phasesMs: { ...phases, rest: Math.round(performance.now() - mark) },
        catalogSnapshots: rec.snapshots,
      },
      'check finished',
    );
    if (failure) throw failure;
  } finally {
    await sh?.close();
    await shadow?.stop();
  }
}
