// Secret hygiene of the fault suite: every resource a fault test creates points
// at a Secret whose password is a recognisable random token, and at the end the
// test looks for that token everywhere the operator writes: its log lines, the
// resources (spec and status), the Jobs it built, the Events of the namespace
// and its /metrics. The operator never reads Secrets (the chart's RBAC gives it
// none), so any hit is a leak through a path nobody meant to exist.
import { randomBytes } from 'node:crypto';
import { GROUP, PLURAL, VERSION } from '../../crds/database-migration.js';
import type { Clients, RunningOperator } from '../integration/harness.js';

/** A token no log line or status would contain by chance. */
export function passwordToken(): string {
  return `dbmPW${randomBytes(16).toString('hex')}`;
}

/** The Secret the harness's baseResource points at (db-credentials/password). */
export async function createPasswordSecret(c: Clients, namespace: string, token: string): Promise<void> {
  await c.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: 'db-credentials', namespace },
      stringData: { password: token },
    },
  });
}

export interface ScanSource {
  what: string;
  text: string;
}

/** Everything the operator wrote about the namespaces, as text to search. */
export async function collectOperatorOutput(
  c: Clients,
  namespaces: readonly string[],
  operators: readonly RunningOperator[],
): Promise<ScanSource[]> {
  const sources: ScanSource[] = [];
  for (const [i, op] of operators.entries()) {
    sources.push({ what: `operator ${i} logs`, text: op.logs() });
    if (op.process.exitCode === null && op.process.signalCode === null) {
      const res = await fetch(`http://127.0.0.1:${op.port}/metrics`);
      sources.push({ what: `operator ${i} /metrics`, text: await res.text() });
    }
  }
  for (const namespace of namespaces) {
    const resources = await c.custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
    });
    sources.push({ what: `${namespace} DatabaseMigrations`, text: JSON.stringify(resources) });
    const events = await c.core.listNamespacedEvent({ namespace });
    sources.push({ what: `${namespace} Events`, text: JSON.stringify(events) });
    const jobs = await c.batch.listNamespacedJob({ namespace });
    sources.push({ what: `${namespace} Jobs`, text: JSON.stringify(jobs) });
  }
  return sources;
}

/** Where each token appears (plain or base64, as a Secret's data would carry it). */
export function findTokens(sources: readonly ScanSource[], tokens: readonly string[]): string[] {
  const hits: string[] = [];
  for (const token of tokens) {
    const b64 = Buffer.from(token).toString('base64');
    for (const s of sources) {
      if (s.text.includes(token) || s.text.includes(b64))
        hits.push(`${s.what} contains ${token.slice(0, 9)}…`);
    }
  }
  return hits;
}
