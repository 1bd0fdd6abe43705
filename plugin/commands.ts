// The commands of `kubectl dbm`. Reads go through views.ts; writes are JSON
// merge patches of metadata or spec, exactly what a person would apply by hand
// (the operator then starts a new run): nothing here writes the status.
import { RETRY_ANNOTATION, scrubTarget, type DatabaseMigration } from '../crds/database-migration.js';
import { isActive } from '../operator/phases.js';
import { planConfigMapName } from '../operator/plan-configmap.js';
import { NAME_LABEL, labelSafe, MANAGED_SELECTOR } from '../operator/job-names.js';
import type { Invocation } from './args.js';
import { render } from './format.js';
import type { Io } from './io.js';
import { latestJob, newestPod } from './jobs.js';
import { apiMessage, configMapData, getDm, listDms, mergePatchDm, UserError, type Kube } from './kube.js';
import {
  historyText,
  historyView,
  planText,
  planView,
  statusRows,
  statusText,
  type PlanView,
} from './views.js';

/** Resolves to the exit code: 0, or 1 when the person said no. */
type Handler = (kube: Kube, inv: Invocation, io: Io) => Promise<number>;

const planMapOf = (dm: DatabaseMigration) =>
  dm.status?.plan?.configMap ?? planConfigMapName(dm.metadata.name);

async function loadPlan(kube: Kube, name: string): Promise<{ dm: DatabaseMigration; view: PlanView }> {
  const dm = await getDm(kube, name);
  const cm = planMapOf(dm);
  return { dm, view: planView(dm, cm, await configMapData(kube, cm)) };
}

/** Writes need a yes: --yes, or a person answering at a terminal. */
async function confirmed(inv: Invocation, io: Io, question: string): Promise<boolean> {
  if (inv.yes) return true;
  if (!io.interactive)
    throw new UserError(
      `stdin is not a terminal, so nobody can confirm: pass --yes to ${inv.command} without asking`,
    );
  return io.confirm(question);
}

const status: Handler = async (kube, inv, io) => {
  const items = inv.name ? [await getDm(kube, inv.name)] : await listDms(kube, inv.allNamespaces);
  const rows = statusRows(items);
  io.out(render(inv.output, inv.name ? rows[0] : rows, () => statusText(rows, inv.allNamespaces)));
  return 0;
};

const plan: Handler = async (kube, inv, io) => {
  const { view } = await loadPlan(kube, inv.name!);
  io.out(render(inv.output, view, () => planText(view)));
  return 0;
};

const approve: Handler = async (kube, inv, io) => {
  const { dm, view } = await loadPlan(kube, inv.name!);
  // The hash the operator compares with: the status's, which names the plan of the current run.
  const hash = dm.status?.plan?.hash;
  if (!hash)
    throw new UserError(
      `${view.resource} has no checked plan yet (status.plan.hash is empty): nothing to approve`,
    );
  if (view.plan && view.plan.hash !== hash)
    throw new UserError(
      `the plan in ConfigMap ${view.configMap} (${view.plan.hash}) is not the one in the status (${hash}): a new check is under way, try again when it ends`,
    );
  // The plan goes to stderr with -o json|yaml, so stdout stays the one patched object.
  (inv.output === 'table' ? io.out : io.err)(planText(view));
  if (dm.spec.safety?.approval === hash) {
    io.err(`${view.resource}: this plan is already approved (spec.safety.approval is ${hash}).\n`);
    return 0;
  }
  if (dm.status?.phase !== 'Blocked')
    io.err(
      `Note: ${view.resource} is ${dm.status?.phase ?? 'not reconciled yet'}, not Blocked; the approval applies only to this exact plan.\n`,
    );
  const question = `Approve plan ${hash} of ${view.resource} (${view.blocking.length} blocking finding(s))?`;
  if (!(await confirmed(inv, io, question))) {
    io.err('Not approved.\n');
    return 1;
  }
  const updated = await mergePatchDm(kube, inv.name!, { spec: { safety: { approval: hash } } });
  io.out(
    render(
      inv.output,
      { resource: view.resource, approval: hash, generation: updated.metadata.generation },
      () =>
        `databasemigration/${inv.name} approved: spec.safety.approval=${hash} (generation ${updated.metadata.generation}; the operator checks again and runs the plan if it is unchanged)\n`,
    ),
  );
  return 0;
};

const retry: Handler = async (kube, inv, io) => {
  const dm = await getDm(kube, inv.name!);
  // The annotation is read when a run ends: set during a run, it would start
  // another attempt right after this one, which nobody asked for yet.
  if (isActive(dm.status?.phase))
    throw new UserError(
      `${dm.metadata.namespace}/${dm.metadata.name} is ${dm.status?.phase}: a retry applies to a run that has ended (wait for it, then retry)`,
    );
  // Any new value asks for a new attempt; a timestamp also says when it was asked.
  const token = new Date().toISOString();
  const updated = await mergePatchDm(kube, inv.name!, {
    metadata: { annotations: { [RETRY_ANNOTATION]: token } },
  });
  io.out(
    render(
      inv.output,
      { resource: `${dm.metadata.namespace}/${dm.metadata.name}`, retry: token, phase: dm.status?.phase },
      () =>
        `databasemigration/${inv.name} annotated ${RETRY_ANNOTATION}=${token} (was ${dm.status?.phase ?? 'not reconciled'}; generation ${updated.metadata.generation})\n`,
    ),
  );
  return 0;
};

const rollback: Handler = async (kube, inv, io) => {
  const dm = await getDm(kube, inv.name!);
  const ref = `${dm.metadata.namespace}/${dm.metadata.name}`;
  // Exactly one of the two (the CRD's CEL rule): null removes the other in a merge patch.
  const spec =
    inv.steps !== undefined ? { steps: inv.steps, toMigration: null } : { steps: null, toMigration: inv.to! };
  const what =
    inv.steps !== undefined
      ? `the last ${inv.steps} applied migration(s)`
      : `every migration applied after ${inv.to}`;
  const target = dm.status?.target ? ` on ${scrubTarget(dm.status.target)}` : '';
  const backup =
    dm.spec.backup?.enabled === false ? 'without a backup first (backup.enabled is false)' : 'after a backup';
  if (!(await confirmed(inv, io, `Revert ${what} of ${ref}${target}, ${backup}?`))) {
    io.err('Nothing changed.\n');
    return 1;
  }
  const updated = await mergePatchDm(kube, inv.name!, { spec: { rollback: spec } });
  io.out(
    render(
      inv.output,
      { resource: ref, rollback: updated.spec.rollback, generation: updated.metadata.generation },
      () =>
        `databasemigration/${inv.name}: spec.rollback set to revert ${what} (generation ${updated.metadata.generation}). Remove spec.rollback to migrate forward again.\n`,
    ),
  );
  return 0;
};

const logs: Handler = async (kube, inv, io) => {
  const dm = await getDm(kube, inv.name!);
  const jobs = await kube.batch.listNamespacedJob({
    namespace: kube.namespace,
    labelSelector: `${MANAGED_SELECTOR},${NAME_LABEL}=${labelSafe(dm.metadata.name)}`,
  });
  const choice = latestJob(jobs.items, inv.step);
  if (!choice)
    throw new UserError(
      `no ${inv.step ? `${inv.step} ` : ''}Job of ${kube.namespace}/${inv.name} (old runs' Jobs may have been cleaned up)`,
    );
  const pods = await kube.core.listNamespacedPod({
    namespace: kube.namespace,
    labelSelector: `batch.kubernetes.io/job-name=${choice.job}`,
  });
  const pod = newestPod(pods.items);
  if (!pod?.metadata?.name)
    throw new UserError(`Job ${choice.job} (run ${choice.run}, step ${choice.step}) has no Pod`);
  io.err(`# Job ${choice.job}, Pod ${pod.metadata.name} (run ${choice.run}, step ${choice.step})\n`);
  let text: string;
  try {
    text = String(
      await kube.core.readNamespacedPodLog({
        name: pod.metadata.name,
        namespace: kube.namespace,
        container: 'migrator',
      }),
    );
  } catch (err) {
    throw new UserError(`the log of Pod ${pod.metadata.name} cannot be read: ${apiMessage(err)}`);
  }
  io.out(
    inv.output === 'table'
      ? text
      : render(inv.output, { ...choice, pod: pod.metadata.name, log: text }, () => text),
  );
  return 0;
};

const history: Handler = async (kube, inv, io) => {
  const dm = await getDm(kube, inv.name!);
  const view = historyView(dm, await configMapData(kube, planMapOf(dm)));
  io.out(render(inv.output, view, () => historyText(view)));
  return 0;
};

export const handlers: Record<Invocation['command'], Handler> = {
  status,
  plan,
  approve,
  retry,
  rollback,
  logs,
  history,
};
