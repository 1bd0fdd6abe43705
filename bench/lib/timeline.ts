// Where a run's time goes on the node, as a watch sees it (ms, the bench's
// clock; the API's own timestamps are whole seconds): for every Pod of a run,
// when it was created, when each of its containers was first seen running and
// terminated. From those, per run: the gaps before each Pod (the operator's
// reaction and the Job controller), Pod start (scheduling, sandbox, image) and
// each container's time.
import * as k8s from '@kubernetes/client-node';

interface PodSeen {
  key: string;
  step: string;
  added: number;
  /** container name -> first seen running / terminated */
  running: Map<string, number>;
  terminated: Map<string, number>;
  order: string[];
}

export interface Timeline {
  /** Called for every Pod event of the watched namespace. */
  observe(pod: k8s.V1Pod, at: number): void;
  /** The phases of one run (by its owner key), from t0 (creation) to end (done seen). */
  phases(key: string, t0: number, end: number): Record<string, number>;
}

export function timeline(): Timeline {
  const pods = new Map<string, PodSeen>();
  return {
    observe(pod, at) {
      const l = pod.metadata?.labels ?? {};
      const key = l['dbmigrate.io/name'] ?? l['bench/run'] ?? '';
      const uid = pod.metadata?.uid ?? '';
      if (!key || !uid) return;
      let seen = pods.get(uid);
      if (!seen) {
        seen = {
          key,
          step: l['dbmigrate.io/step'] ?? 'bare',
          added: at,
          running: new Map(),
          terminated: new Map(),
          order: [],
        };
        pods.set(uid, seen);
      }
      const statuses = [
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.containerStatuses ?? []),
      ];
      for (const c of statuses) {
        if (!seen.order.includes(c.name)) seen.order.push(c.name);
        if ((c.state?.running || c.state?.terminated) && !seen.running.has(c.name))
          seen.running.set(c.name, at);
        if (c.state?.terminated && !seen.terminated.has(c.name)) seen.terminated.set(c.name, at);
      }
    },
    phases(key, t0, end) {
      const mine = [...pods.values()].filter((p) => p.key === key).sort((a, b) => a.added - b.added);
      const out: Record<string, number> = {};
      const add = (k: string, ms: number) => (out[k] = Math.round((out[k] ?? 0) + Math.max(0, ms)));
      let prevEnd = t0;
      for (const p of mine) {
        add('before each Pod (operator, Job controller)', p.added - prevEnd);
        const starts = [...p.running.values()];
        const firstStart = starts.length ? Math.min(...starts) : p.added;
        add('Pod start (scheduling, sandbox, image)', firstStart - p.added);
        let last = firstStart;
        for (const name of p.order) {
          const s = p.running.get(name);
          const e = p.terminated.get(name);
          if (s === undefined || e === undefined) continue;
          // Containers run one after another (init) or side by side: count each from the later of
          // its start and the previous one's end, and the kubelet's gap between them apart, so the
          // sum is the Pod's wall time.
          if (s > last) add('between containers (kubelet)', s - last);
          add(`${p.step}: ${name}`, e - Math.max(s, last));
          last = Math.max(last, e);
        }
        prevEnd = last;
      }
      add('after the last Pod (operator to done)', end - prevEnd);
      return out;
    },
  };
}
