// The DatabaseMigration status: what the operator observed and did.
import { z } from 'zod';
import { BackupRecord, Finding } from './job-result.js';

export const phases = [
  'Pending',
  'Queued',
  'Checking',
  'Blocked',
  'BackingUp',
  'Migrating',
  'Succeeded',
  'Failed',
  'RollingBack',
  'RolledBack',
  'Restoring',
  'Restored',
] as const;
export const Phase = z.enum(phases);
export type Phase = z.infer<typeof Phase>;

export const Condition = z.object({
  type: z
    .string()
    .describe(
      'Ready, Reconciling, Stalled, or a step: Checked, BackedUp, MigrationsApplied, Verified, RolledBack, Restored.',
    ),
  status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
  reason: z.string().describe('A CamelCase word for the last transition, for programs.'),
  message: z.string().describe('What happened, for people.'),
  lastTransitionTime: z.string().describe('When status last changed.'),
  observedGeneration: z.number().int().optional().describe('The generation the condition was set for.'),
});
export type Condition = z.infer<typeof Condition>;

export const RunHistoryEntry = z.object({
  generation: z.number().int().describe('The generation the run carried out.'),
  attempt: z.number().int().describe('The attempt of that generation (a retry starts the next).'),
  phase: Phase.describe('The phase the run ended in.'),
  startedAt: z.string().optional().describe('When the run started.'),
  completedAt: z.string().optional().describe('When the run ended.'),
  message: z.string().optional().describe('How the run ended.'),
});
export type RunHistoryEntry = z.infer<typeof RunHistoryEntry>;

export const FrozenRun = z
  .object({
    generation: z.number().int().describe('The generation this run carries out.'),
    attempt: z.number().int().describe('The attempt of that generation.'),
    startedAt: z.string().describe('When the run started.'),
    spec: z
      .looseObject({})
      .describe(
        'The spec this run uses, as parsed when it started (defaults filled). Every Job of the run is built from it; edits of the live spec start the next run.',
      ),
    migrationsImageDigest: z
      .string()
      .optional()
      .describe(
        'The migrations image as the first Pod of the run resolved it (image@sha256:...); every later Job of the run uses it, so a re-tagged image cannot change the run.',
      ),
    checkedPlan: z
      .object({
        checksums: z
          .record(z.string(), z.string())
          .describe('sha256 of each pending migration file, by name.'),
        pendingCount: z.number().int().nonnegative().describe('How many migrations were pending.'),
        digest: z
          .string()
          .optional()
          .describe(
            'sha256 over every pending name and file sha256: proves every file, however long the plan.',
          ),
      })
      .optional()
      .describe(
        "What the run's check saw: each pending migration's file sha256 (fewer than pendingCount when its result was cut) and how many were pending. The migrate Job refuses files that differ, or other pending migrations.",
      ),
    migrationsConfigMap: z
      .object({
        name: z.string().describe('Name of the ConfigMap.'),
        uid: z.string().describe('Its uid: a replaced ConfigMap has another.'),
        resourceVersion: z.string().describe('Its resourceVersion when the run started.'),
        sha256: z.string().describe('Hash of its data and binaryData.'),
      })
      .optional()
      .describe(
        'The migrations ConfigMap as the run started (its content hash over data and binaryData): a later Job is refused, the run Stalled naming it, when it was replaced or its content changed.',
      ),
  })
  .describe('The frozen plan of the current run.');
export type FrozenRun = z.infer<typeof FrozenRun>;

export const DatabaseMigrationStatus = z
  .object({
    run: FrozenRun.optional(),
    observedGeneration: z.number().int().optional().describe('The generation the status describes.'),
    phase: Phase.optional().describe(
      'Where the run is: Pending, Queued, Checking, Blocked, BackingUp, Migrating, Succeeded, Failed, RollingBack, RolledBack, Restoring or Restored.',
    ),
    conditions: z
      .array(Condition)
      .optional()
      .describe(
        'kstatus conditions: Ready (True only on success), Reconciling (a run is active), Stalled (a human is needed), and one per step.',
      )
      // metav1.Condition semantics: one entry per type, merged by type under server-side apply.
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    target: z.string().optional().describe('host:port/database: the key runs are serialized on.'),
    attempt: z.number().int().optional().describe('Run attempt of this generation (retries bump it).'),
    retryToken: z.string().optional().describe('The retry annotation value the current attempt answered.'),
    jobs: z.record(z.string(), z.string()).optional().describe('Job name per step of the current run.'),
    startedAt: z.string().optional().describe('When the current run started.'),
    expectedMigratedBy: z
      .string()
      .optional()
      .describe(
        "When the migrate step should end, from the rehearsal's durations (set when it starts; a migrate much slower than its rehearsal raises an alert).",
      ),
    completedAt: z.string().optional().describe('When the current run ended.'),
    plan: z
      .object({
        pending: z
          .array(z.string())
          .describe('Pending migrations, oldest first (at most 50: see pendingCount).'),
        hash: z
          .string()
          .describe(
            "sha256 of what the check proved: the pending migrations' files (one digest over the sorted list), the migration directory's other files, and the findings (rule, migration, statement number), never the SQL text, so a migration that inlines a timestamp keeps its hash. To accept a blocked plan, copy it into spec.safety.approval.",
          ),
        findings: z
          .array(Finding)
          .describe('Findings of the check, blocking ones first (at most 20: see findingsCount).'),
        blocking: z
          .array(z.string())
          .optional()
          .describe('The blocking findings as migration: rule (at most 20: see blockingCount).'),
        pendingCount: z
          .number()
          .int()
          .optional()
          .describe('All pending migrations (pending may be shortened).'),
        findingsCount: z.number().int().optional().describe('All findings of the check.'),
        blockingCount: z
          .number()
          .int()
          .optional()
          .describe('Findings in the blocking categories; above 0 the run is Blocked until approved.'),
        configMap: z
          .string()
          .optional()
          .describe(
            'ConfigMap (owned by this resource) with the full plan and applied list, uncut: kubectl get configmap <name> -o jsonpath={.data.plan\\.json}',
          ),
        rehearsal: z
          .object({
            onData: z
              .boolean()
              .describe("The check ran the plan on a copy of the target's rows (else on its schema alone)."),
            totalMs: z.number().int().nonnegative().describe('How long the whole plan took there.'),
            expectedDurationsMs: z
              .record(z.string(), z.number().int().nonnegative())
              .describe('Each pending migration, as long as it took there (at most 50).'),
            note: z.string().optional().describe('Why the rows were not copied.'),
          })
          .optional()
          .describe("The plan's run in the check's private server: the expected durations."),
      })
      .optional()
      .describe(
        'The plan of the current run, as checked (short: the full one is in the ConfigMap named by configMap).',
      ),
    revert: z
      .object({
        migrations: z
          .array(z.string())
          .describe(
            'The migrations the revert undoes, newest first (with byRun, the names the result carried: possibly only the newest).',
          ),
        reason: z.string().describe('Why the revert runs.'),
        appliedBy: z
          .string()
          .optional()
          .describe(
            "Undo every migration that this run identity (namespace/name@generation.attempt#uid, the history rows' applied_by) applied, as the database records it, not a list.",
          ),
        count: z.number().int().nonnegative().optional().describe('How many migrations this run applied.'),
      })
      .optional()
      .describe('Recorded before the revert Job starts, so a repeated reconcile reverts nothing more.'),
    inspection: z
      .object({
        after: z.string().describe('The step whose result could not be read.'),
        reason: z.string().describe('Why it could not be read.'),
        startedAt: z.string().describe('When the inspection started.'),
      })
      .optional()
      .describe('Unknown is not failed: the database is asked what happened before any way back.'),
    rollbackDone: z
      .object({
        hash: z.string().describe('Hash of the spec.rollback that ran.'),
        generation: z.number().int().describe('The generation that ran it.'),
      })
      .optional()
      .describe('The spec.rollback last carried out: it runs once, not again on unrelated edits.'),
    backup: BackupRecord.extend({
      completedAt: z.string().optional().describe('When the backup Job ended.'),
    })
      .optional()
      .describe('The backup the current run took: what a restore would use.'),
    applied: z
      .array(
        z.object({
          name: z.string().describe('The migration.'),
          durationMs: z.number().describe('How long it took, in milliseconds.'),
        }),
      )
      .optional()
      .describe('Migrations this run applied (or reverted), with durations.'),
    appliedCount: z
      .number()
      .int()
      .optional()
      .describe('How many migrations the last run applied (or reverted); the Applied column.'),
    progress: z
      .object({
        applied: z.number().int().describe('Migrations of this run applied so far.'),
        total: z.number().int().describe('Migrations the migrate step applies in all.'),
        current: z
          .string()
          .optional()
          .describe('The migration being applied now (or the one that failed); absent once none runs.'),
        message: z
          .string()
          .describe(
            'The Progress column: "2/5: AddIndex1700000" while the 2nd of 5 runs, "5/5 applied" at the end.',
          ),
      })
      .optional()
      .describe(
        "Live progress of the run's migrate step, read from the migrate Pod's log while it runs (best effort: written when it changes, at most every few seconds); its final value stays after the step ends.",
      ),
    lastError: z
      .object({
        step: z.string().describe('The step that failed.'),
        message: z.string().describe('The error, one line, never containing credentials.'),
        code: z.string().optional().describe('PostgreSQL SQLSTATE, when the database raised it.'),
        migration: z.string().optional().describe('The migration at fault, if any.'),
      })
      .optional()
      .describe('The error of the last failed step.'),
    scaledDown: z
      .array(
        z.object({
          kind: z.string().describe('Deployment or StatefulSet.'),
          name: z.string().describe('Name of the workload.'),
          replicas: z.number().int().describe('Its replicas before the scale-down.'),
        }),
      )
      .optional()
      .describe(
        'Workloads scaled to zero (before the backup or the restore), with their former replicas: recorded before scaling, never overwritten, dropped once they are back.',
      ),
    databaseIdentity: z
      .object({
        key: z
          .string()
          .describe("The serialization key: a hash of the server's identity and the database oid."),
        server: z
          .string()
          .describe('system:<system_identifier>, or addr:<address>:<port> where it may not be read.'),
      })
      .optional()
      .describe(
        'The target database as the server identifies it (read by the check): one run at a time per database, however its host is spelled or whichever Secret reaches it.',
      ),
    workloadsStoppingSince: z
      .string()
      .optional()
      .describe(
        "When the run began waiting for restoreWorkloads' Pods to be gone; the wait ends Stalled after spec.stopWorkloadsTimeoutSeconds.",
      ),
    workloadsScaledBackBy: z
      .array(z.string())
      .max(10)
      .optional()
      .describe(
        'While waiting: the field managers seen setting the replicas of restoreWorkloads back above zero.',
      ),
    history: z
      .array(RunHistoryEntry)
      .max(20)
      .optional()
      .describe('The last runs, newest first (at most 20).'),
  })
  .describe('What the operator observed and did.');
export type DatabaseMigrationStatus = z.infer<typeof DatabaseMigrationStatus>;
