// The edge: carries out what the reconciler returned. Intent before action: the
// status (with every intent in it) is written first; only then are Jobs created
// and workloads scaled, so a crash or a 409 in between resumes, never repeats.
import type { Logger } from 'pino';
import type { DatabaseMigration, DatabaseMigrationStatus } from '../crds/database-migration.js';
import type { JobStep } from '../crds/job-result.js';
import { failpoint } from './failpoints.js';
import type { JobBuildConfig } from './job-builder.js';
import { isActive, STEP_OF_PHASE } from './phases.js';
import { publishResult } from './plan-configmap.js';
import { jobRefused, type Action, type ReconcileOutput } from './reconciler.js';
import { describeApiError, httpStatus, type KubeClients } from './runtime/kube-clients.js';
import { jobForStep } from './step-jobs.js';
import { recordReplicas, scaleToZero, scaleUp } from './workloads.js';

/** What the edge needs from the controller for one resource. */
export interface Edge {
  clients: KubeClients;
  jobConfig: JobBuildConfig;
  now(): Date;
  /** Writes the status (skipped when it equals the newest one known). */
  writeStatus(next: DatabaseMigrationStatus): Promise<void>;
  /** Logs the Event and records it on the resource. */
  emit(event: Extract<Action, { kind: 'event' }>): Promise<void>;
  /** A step whose Job the API server refused counts as a failed step. */
  stepRefused(status: DatabaseMigrationStatus, step: JobStep): void;
}

export async function act(
  edge: Edge,
  dm: DatabaseMigration,
  out: ReconcileOutput,
  logger: Logger,
): Promise<DatabaseMigrationStatus> {
  const { clients } = edge;
  const ns = dm.metadata.namespace;
  let status: DatabaseMigrationStatus = { ...out.status };
  const write = async (next: DatabaseMigrationStatus) => {
    await edge.writeStatus(next);
    status = next;
  };

  // Replicas are recorded (and written) before anything is scaled.
  for (const action of out.actions) {
    if (action.kind !== 'scaleDown') continue;
    try {
      status = {
        ...status,
        scaledDown: await recordReplicas(clients.apps, ns, action.workloads, status.scaledDown ?? []),
      };
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
      const refused = jobRefused(
        dm,
        status,
        isActive(status.phase) ? STEP_OF_PHASE[status.phase] : 'restore',
        `spec.restoreWorkloads: ${describeApiError(err)}`,
        edge.now(),
      );
      await write(refused.status);
      await edge.emit(refused.event);
      return status;
    }
  }
  await write(status);
  failpoint(`after-status-write:${status.phase ?? 'none'}`);

  for (const action of out.actions) {
    switch (action.kind) {
      case 'startStep': {
        const job = jobForStep(dm, status, action, edge.jobConfig);
        const jobLogger = logger.child({ step: action.step, job: job.metadata?.name });
        try {
          await clients.batch.createNamespacedJob({ namespace: ns, body: job });
          jobLogger.info('created Job');
        } catch (err) {
          const code = httpStatus(err);
          // Deterministic names: AlreadyExists means this step's Job is there; adopt it.
          if (code === 409) {
            jobLogger.info('adopted existing Job');
          } else if (code !== undefined && code >= 400 && code < 500 && code !== 429) {
            // Refused for good (invalid field, admission, quota): say so, and free the database.
            const refused = jobRefused(dm, status, action.step, describeApiError(err), edge.now());
            jobLogger.warn({ err: describeApiError(err) }, 'the API server refused the Job');
            edge.stepRefused(status, action.step);
            await write(refused.status);
            await edge.emit(refused.event);
            return status;
          } else throw err;
        }
        failpoint(`after-create-job:${action.step}`);
        break;
      }
      case 'event':
        await edge.emit(action);
        break;
      case 'scaleDown':
        await scaleToZero(clients.apps, ns, action.workloads);
        logger.warn({ workloads: status.scaledDown, phase: status.phase }, 'scaled workloads to zero');
        failpoint('after-scale-down');
        break;
      case 'publishResult':
        // For people, never for a decision: a failure is logged and the run goes on.
        try {
          const outcome = await publishResult(clients.core, dm, action, logger);
          if (!outcome.written)
            await edge.emit({
              kind: 'event',
              type: 'Warning',
              reason: 'PlanConfigMapNotOwned',
              message: outcome.reason,
            });
        } catch (err) {
          logger.warn(
            { err: describeApiError(err), step: action.step },
            'could not write the plan ConfigMap',
          );
        }
        break;
      case 'scaleUp':
        await scaleUp(clients.apps, ns, action.workloads);
        logger.info({ workloads: action.workloads }, 'scaled workloads back');
        failpoint('after-scale-up');
        // The record goes only once the workloads are back at their size.
        await write({ ...status, scaledDown: [] });
        break;
    }
  }
  return status;
}
