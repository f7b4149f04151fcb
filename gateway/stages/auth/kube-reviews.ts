/**
 * Kubernetes tokens on the data plane (`sluice.dev/auth: kubernetes`, cluster mode), the OpenDataHub/KServe
 * pattern: the bearer token is checked by the API server with a TokenReview (who is it?), then a
 * SubjectAccessReview asks whether that user may `get` the InferenceService (`<group>/inferenceservices/<name>` in
 * its namespace) — the same permission `kubectl get isvc <name>` needs, so a Role that lets someone see a model
 * lets them call it, and RBAC bindings already written for KServe work unchanged.
 *
 * Both answers are cached (bounded, keyed by the token's SHA-256, never the token): an accepted token for
 * `tokenTtlMs` (60 s), a refused one for `tokenNegativeTtlMs` (10 s); an allowed access for `accessTtlMs` (60 s), a
 * denied one for `accessNegativeTtlMs` (10 s). So a deleted service account or a removed RoleBinding stops working
 * within 60 s, and a newly granted one works within 10 s. Concurrent requests with one token share one review.
 * When the API server cannot answer (down, timeout, the gateway itself not allowed to create reviews) the request
 * is refused with 503 naming the failure (fail closed); failures are not cached.
 */
import { hash } from 'node:crypto';
import { ApiException, AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../../../core/clock.js';
import { errorMessage } from '../../../core/errors.js';

/** Who the API server says a token belongs to. */
export interface KubeUser {
  username: string;
  uid: string;
  groups: readonly string[];
  extra: Readonly<Record<string, string[]>>;
}

export type TokenReviewAnswer = { authenticated: true; user: KubeUser } | { authenticated: false; error: string };

export interface AccessAttributes {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
  name: string;
}

export interface AccessAnswer {
  allowed: boolean;
  /** The authorizer's reason, if it gave one. */
  reason: string;
}

/** The two reviews, as the API server answers them (clientNodeReviews; tests may give their own). */
export interface KubeReviewApi {
  tokenReview(token: string): Promise<TokenReviewAnswer>;
  accessReview(user: KubeUser, attrs: AccessAttributes): Promise<AccessAnswer>;
}

/** TokenReview and SubjectAccessReview through @kubernetes/client-node, with the gateway's own credentials. */
export function clientNodeReviews(kc: KubeConfig): KubeReviewApi {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  return {
    async tokenReview(token) {
      const r = await authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } });
      const s = r.status;
      if (s?.authenticated !== true || !s.user?.username) return { authenticated: false, error: s?.error ?? '' };
      return { authenticated: true, user: { username: s.user.username, uid: s.user.uid ?? '', groups: s.user.groups ?? [], extra: s.user.extra ?? {} } };
    },
    async accessReview(user, a) {
      const r = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            groups: [...user.groups],
            ...(Object.keys(user.extra).length > 0 ? { extra: { ...user.extra } } : {}),
            resourceAttributes: { verb: a.verb, group: a.group, resource: a.resource, namespace: a.namespace, name: a.name },
          },
        },
      });
      const s = r.status;
      return { allowed: s?.allowed === true && s.denied !== true, reason: s?.reason ?? s?.evaluationError ?? '' };
    },
  };
}

/** What the reviews decided for one request. */
export type KubeDecision = { ok: true; user: KubeUser } | { ok: false; status: 401 | 403 | 503; reason: string; message: string };

export interface KubeAuthOptions {
  api: KubeReviewApi;
  clock: Clock;
  /** The InferenceService API group the SubjectAccessReview names (the cluster's `group` setting). */
  group: string;
  verb?: string;
  resource?: string;
  tokenTtlMs?: number;
  tokenNegativeTtlMs?: number;
  accessTtlMs?: number;
  accessNegativeTtlMs?: number;
  /** Entries per cache (tokens; token × service). Default 10,000. */
  maxEntries?: number;
  /** A review not answered in this time fails (503). Default 5 s. */
  timeoutMs?: number;
  /** Reviews waiting for the API server at once; past it, requests needing a new review get 503. Default 1,000. */
  maxInFlight?: number;
  registry?: Registry;
}

interface Entry<V> {
  value: V;
  until: number;
}

/** A map with per-entry expiry, at most `max` entries (the oldest inserted goes first). */
class TtlCache<V> {
  private readonly m = new Map<string, Entry<V>>();
  constructor(private readonly max: number) {}

  get(key: string, now: number): V | undefined {
    const e = this.m.get(key);
    if (e === undefined) return undefined;
    if (e.until <= now) {
      this.m.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V, until: number): void {
    this.m.delete(key);
    if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value as string);
    this.m.set(key, { value, until });
  }

  get size(): number {
    return this.m.size;
  }
}

const REVIEW_FAILED = 'kube_review_failed';

export class KubeAuth {
  readonly verb: string;
  readonly resource: string;
  private readonly tokens: TtlCache<TokenReviewAnswer>;
  private readonly access: TtlCache<AccessAnswer>;
  private readonly pendingTokens = new Map<string, Promise<TokenReviewAnswer>>();
  private readonly pendingAccess = new Map<string, Promise<AccessAnswer>>();
  private readonly tokenTtl: number;
  private readonly tokenNegTtl: number;
  private readonly accessTtl: number;
  private readonly accessNegTtl: number;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly reviewsCounter: Counter<'review' | 'result'> | null;
  /** Reviews sent to the API server (tests read them: a cached answer sends none). */
  tokenReviews = 0;
  accessReviews = 0;

  constructor(private readonly o: KubeAuthOptions) {
    this.verb = o.verb ?? 'get';
    this.resource = o.resource ?? 'inferenceservices';
    const max = o.maxEntries ?? 10_000;
    this.tokens = new TtlCache(max);
    this.access = new TtlCache(max);
    this.tokenTtl = o.tokenTtlMs ?? 60_000;
    this.tokenNegTtl = o.tokenNegativeTtlMs ?? 10_000;
    this.accessTtl = o.accessTtlMs ?? 60_000;
    this.accessNegTtl = o.accessNegativeTtlMs ?? 10_000;
    this.timeoutMs = o.timeoutMs ?? 5_000;
    this.maxInFlight = o.maxInFlight ?? 1_000;
    this.reviewsCounter = o.registry
      ? new Counter({
          name: 'sluice_auth_kube_reviews_total',
          help: 'TokenReviews and SubjectAccessReviews the gateway sent to the Kubernetes API server, by review and result (cache hits are not counted)',
          labelNames: ['review', 'result'],
          registers: [o.registry],
        })
      : null;
  }

  /** The permission checked: `get inferenceservices.<group> "<name>" in namespace "<ns>"`. */
  describe(namespace: string, name: string): string {
    return `${this.verb} ${this.resource}.${this.o.group} "${name}" in namespace "${namespace}"`;
  }

  /** Decides for a bearer token and a service; synchronous when both answers are cached. */
  check(token: string, namespace: string, name: string): KubeDecision | Promise<KubeDecision> {
    const now = this.o.clock.now();
    const th = hash('sha256', token, 'base64url');
    const t = this.tokens.get(th, now);
    if (t !== undefined) return this.afterToken(t, th, namespace, name, now);
    const review = this.reviewToken(token, th);
    if (review === null) return this.busy();
    return review.then(
      (answer) => this.afterToken(answer, th, namespace, name, this.o.clock.now()),
      (err: unknown) => this.failed('TokenReview', 'tokenreviews.authentication.k8s.io', err),
    );
  }

  private afterToken(t: TokenReviewAnswer, th: string, namespace: string, name: string, now: number): KubeDecision | Promise<KubeDecision> {
    if (!t.authenticated) {
      const why = t.error ? `: ${t.error}` : '';
      return { ok: false, status: 401, reason: 'kube_unauthenticated', message: `the Kubernetes API server did not authenticate the bearer token (TokenReview${why})` };
    }
    const key = `${th} ${namespace}/${name}`;
    const a = this.access.get(key, now);
    if (a !== undefined) return this.afterAccess(a, t.user, namespace, name);
    const review = this.reviewAccess(t.user, key, namespace, name);
    if (review === null) return this.busy();
    return review.then(
      (answer) => this.afterAccess(answer, t.user, namespace, name),
      (err: unknown) => this.failed('SubjectAccessReview', 'subjectaccessreviews.authorization.k8s.io', err),
    );
  }

  private afterAccess(a: AccessAnswer, user: KubeUser, namespace: string, name: string): KubeDecision {
    if (a.allowed) return { ok: true, user };
    return {
      ok: false,
      status: 403,
      reason: 'kube_access_denied',
      message: `Kubernetes RBAC does not allow "${user.username}" to ${this.describe(namespace, name)} (rule: sluice.dev/auth: kubernetes, SubjectAccessReview${a.reason ? `: ${a.reason}` : ''})`,
    };
  }

  private reviewToken(token: string, th: string): Promise<TokenReviewAnswer> | null {
    const pending = this.pendingTokens.get(th);
    if (pending !== undefined) return pending;
    if (this.pendingTokens.size + this.pendingAccess.size >= this.maxInFlight) return null;
    this.tokenReviews++;
    const p = this.withTimeout(this.o.api.tokenReview(token), 'TokenReview').then(
      (answer) => {
        this.pendingTokens.delete(th);
        this.tokens.set(th, answer, this.o.clock.now() + (answer.authenticated ? this.tokenTtl : this.tokenNegTtl));
        this.reviewsCounter?.inc({ review: 'token', result: answer.authenticated ? 'authenticated' : 'unauthenticated' });
        return answer;
      },
      (err: unknown) => {
        this.pendingTokens.delete(th);
        this.reviewsCounter?.inc({ review: 'token', result: 'error' });
        throw err;
      },
    );
    this.pendingTokens.set(th, p);
    return p;
  }

  private reviewAccess(user: KubeUser, key: string, namespace: string, name: string): Promise<AccessAnswer> | null {
    const pending = this.pendingAccess.get(key);
    if (pending !== undefined) return pending;
    if (this.pendingTokens.size + this.pendingAccess.size >= this.maxInFlight) return null;
    this.accessReviews++;
    const attrs: AccessAttributes = { verb: this.verb, group: this.o.group, resource: this.resource, namespace, name };
    const p = this.withTimeout(this.o.api.accessReview(user, attrs), 'SubjectAccessReview').then(
      (answer) => {
        this.pendingAccess.delete(key);
        this.access.set(key, answer, this.o.clock.now() + (answer.allowed ? this.accessTtl : this.accessNegTtl));
        this.reviewsCounter?.inc({ review: 'access', result: answer.allowed ? 'allowed' : 'denied' });
        return answer;
      },
      (err: unknown) => {
        this.pendingAccess.delete(key);
        this.reviewsCounter?.inc({ review: 'access', result: 'error' });
        throw err;
      },
    );
    this.pendingAccess.set(key, p);
    return p;
  }

  private withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.o.clock.setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      p.then(
        (v) => {
          this.o.clock.clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          this.o.clock.clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(`${what}: ${String(err)}`));
        },
      );
    });
  }

  private busy(): KubeDecision {
    return {
      ok: false,
      status: 503,
      reason: REVIEW_FAILED,
      message: `too many Kubernetes token reviews in flight (limit ${this.maxInFlight}); the request is refused, try again`,
    };
  }

  private failed(review: string, resource: string, err: unknown): KubeDecision {
    let detail: string;
    if (err instanceof ApiException) {
      const code = err.code;
      detail =
        code === 401 || code === 403
          ? `HTTP ${code}: the gateway's own credentials may not create ${resource} (grant "create" on it to the gateway's service account)`
          : `HTTP ${code}`;
    } else detail = errorMessage(err);
    return {
      ok: false,
      status: 503,
      reason: REVIEW_FAILED,
      message: `cannot check the Kubernetes token: the ${review} to the Kubernetes API server failed (${detail}); the request is refused (fail closed)`,
    };
  }

  /** Cached answers held (tokens, token × service). */
  get sizes(): { tokens: number; access: number } {
    return { tokens: this.tokens.size, access: this.access.size };
  }
}
