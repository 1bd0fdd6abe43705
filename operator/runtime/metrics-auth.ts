// Who may read /metrics, as kube-rbac-proxy decides it: the Bearer token is
// authenticated by the API server (TokenReview), then the user it names must be
// allowed `get` on the non-resource URL /metrics (SubjectAccessReview). Answers
// are kept briefly (a bounded cache keyed by the token's SHA-256, never the token
// itself), so a scrape every few seconds costs the API server two requests a
// minute per scraper, not two per scrape.
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The two API calls, behind an interface so the decision logic is tested without a cluster. */
export interface Reviewer {
  /** The user the token belongs to, or undefined when the API server does not authenticate it. */
  authenticate(token: string): Promise<ReviewedUser | undefined>;
  /** Whether the user may `verb` the non-resource URL `path`. */
  authorize(user: ReviewedUser, path: string, verb: string): Promise<boolean>;
}

export type AuthDecision =
  | { status: 200; user: string }
  | { status: 401; reason: string }
  | { status: 403; reason: string }
  | { status: 500; reason: string };

export interface MetricsAuthOptions {
  reviewer: Reviewer;
  /** How long an allowed answer is kept (default 60 s). */
  allowTtlMs?: number;
  /** How long a refusal is kept (default 10 s: a new RoleBinding takes effect soon). */
  denyTtlMs?: number;
  /** Most tokens remembered (default 1000); the oldest go first. */
  maxEntries?: number;
  now?: () => number;
  path?: string;
  verb?: string;
}

interface Entry {
  decision: AuthDecision;
  expires: number;
}

export class MetricsAuth {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<AuthDecision>>();
  private readonly allowTtl: number;
  private readonly denyTtl: number;
  private readonly max: number;
  private readonly now: () => number;
  private readonly path: string;
  private readonly verb: string;

  constructor(private readonly opts: MetricsAuthOptions) {
    this.allowTtl = opts.allowTtlMs ?? 60_000;
    this.denyTtl = opts.denyTtlMs ?? 10_000;
    this.max = Math.max(1, opts.maxEntries ?? 1000);
    this.now = opts.now ?? Date.now;
    this.path = opts.path ?? '/metrics';
    this.verb = opts.verb ?? 'get';
  }

  /** Decides on the request's Authorization header. */
  async check(authorization: string | undefined): Promise<AuthDecision> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { status: 401, reason: 'a Bearer token is required' };
    const key = createHash('sha256').update(m[1]!).digest('hex');
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) return hit.decision;
    if (hit) this.cache.delete(key);
    // Concurrent scrapes with one token share one review.
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.review(m[1]!).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const decision = await pending;
    if (decision.status !== 500) this.remember(key, decision);
    return decision;
  }

  get size(): number {
    return this.cache.size;
  }

  private async review(token: string): Promise<AuthDecision> {
    try {
      const user = await this.opts.reviewer.authenticate(token);
      if (!user) return { status: 401, reason: 'the token is not valid' };
      const allowed = await this.opts.reviewer.authorize(user, this.path, this.verb);
      return allowed
        ? { status: 200, user: user.username }
        : {
            status: 403,
            reason: `${user.username} may not ${this.verb} ${this.path} (bind it to a ClusterRole allowing nonResourceURLs ["${this.path}"] verb "${this.verb}")`,
          };
    } catch (err) {
      // Not kept: the next scrape asks again.
      return { status: 500, reason: `the API server could not review the token: ${describe(err)}` };
    }
  }

  private remember(key: string, decision: AuthDecision): void {
    const ttl = decision.status === 200 ? this.allowTtl : this.denyTtl;
    this.cache.delete(key);
    this.cache.set(key, { decision, expires: this.now() + ttl });
    while (this.cache.size > this.max) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}

function describe(err: unknown): string {
  const code = err && typeof err === 'object' && 'code' in err ? (err as { code: unknown }).code : undefined;
  if (typeof code === 'number') return `HTTP ${code}`;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** The Reviewer backed by the API server: TokenReview and SubjectAccessReview (authentication.k8s.io, authorization.k8s.io). */
export function kubeReviewer(kubeConfig: k8s.KubeConfig, audiences: string[] = []): Reviewer {
  const authn = kubeConfig.makeApiClient(k8s.AuthenticationV1Api);
  const authz = kubeConfig.makeApiClient(k8s.AuthorizationV1Api);
  return {
    async authenticate(token) {
      const review = await authn.createTokenReview({
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(audiences.length > 0 ? { audiences } : {}) },
        },
      });
      const s = review.status;
      if (!s?.authenticated || !s.user?.username) return undefined;
      return {
        username: s.user.username,
        ...(s.user.uid ? { uid: s.user.uid } : {}),
        ...(s.user.groups ? { groups: s.user.groups } : {}),
        ...(s.user.extra ? { extra: s.user.extra } : {}),
      };
    },
    async authorize(user, path, verb) {
      const review = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.groups ? { groups: user.groups } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            nonResourceAttributes: { path, verb },
          },
        },
      });
      return review.status?.allowed === true;
    },
  };
}
