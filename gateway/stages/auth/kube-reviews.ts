/**
 * Kubernetes tokens on the data plane (`sluice.dev/auth: kubernetes`, cluster mode), the OpenDataHub/KServe
 * pattern: the bearer token is checked by the API server with a TokenReview (who is it?), then a
 * SubjectAccessReview asks whether that user may `get` the InferenceService (`<group>/inferenceservices/<name>` in
 * its namespace) — the same permission `kubectl get isvc <name>` needs, so a Role that lets someone see a model
 * lets them call it, and RBAC bindings already written for KServe work unchanged.
 *
 * Both answers are cached (bounded: 10,000 tokens, found by the token's last 40 characters and then compared whole
 * — or by its SHA-256 past 2 KiB — and 32 services per token; a hit is three or four map lookups): an accepted token for
 * `tokenTtlMs` (60 s), a refused one for `tokenNegativeTtlMs` (10 s); an allowed access for `accessTtlMs` (60 s), a
 * denied one for `accessNegativeTtlMs` (10 s). So a deleted service account or a removed RoleBinding stops working
 * within 60 s, and a newly granted one works within 10 s. Concurrent requests with one token share one review.
 * When the API server cannot answer (down, timeout, the gateway itself not allowed to create reviews) the request
 * is refused with 503 naming the failure (fail closed); failures are not cached.
 */
import { ApiException, AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../../../core/clock.js';
import { errorMessage } from '../../../core/errors.js';
import { keptToken, TokenCache, tokenId } from './token-cache.js';

/** Who the API server says a token belongs to. */
export interface KubeUser {
  username: string;
  uid: string;
  groups: readonly string[];
  extra: Readonly<Record<string, string[]>>;
}

/** `audiences`: the status's (the requested audiences the token is meant for), when audiences were asked for. */
export type TokenReviewAnswer = { authenticated: true; user: KubeUser; audiences?: readonly string[] } | { authenticated: false; error: string };

/** Which audiences a token must be meant for (the TokenReview's `spec.audiences`); `key` names the set in the caches. */
export interface KubeAudiences {
  /** 'kubernetes' for none, else distinct per set (api/auth-policy.ts `kubernetesPolicy`). */
  readonly key: string;
  /** Empty: none asked (the API server checks its own audience). */
  readonly audiences: readonly string[];
  /** Where they are set, for a refusal's message; absent: the service's `sluice.dev/auth-kubernetes-audiences`. */
  readonly source?: string;
}

const NO_AUDIENCES: KubeAudiences = { key: 'kubernetes', audiences: [] };

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
  tokenReview(token: string, audiences: readonly string[]): Promise<TokenReviewAnswer>;
  accessReview(user: KubeUser, attrs: AccessAttributes): Promise<AccessAnswer>;
}

/** TokenReview and SubjectAccessReview through @kubernetes/client-node, with the gateway's own credentials. */
export function clientNodeReviews(kc: KubeConfig): KubeReviewApi {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  return {
    async tokenReview(token, audiences) {
      const spec = audiences.length > 0 ? { token, audiences: [...audiences] } : { token };
      const r = await authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec } });
      const s = r.status;
      if (s?.authenticated !== true || !s.user?.username) return { authenticated: false, error: s?.error ?? '' };
      const user = { username: s.user.username, uid: s.user.uid ?? '', groups: s.user.groups ?? [], extra: s.user.extra ?? {} };
      return audiences.length > 0 ? { authenticated: true, user, audiences: s.audiences ?? [] } : { authenticated: true, user };
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

/** What the reviews decided for one request (an allowed one carries the principal, made once per cached answer). */
export type KubeDecision =
  | { ok: true; user: KubeUser; principal: { readonly method: 'kubernetes'; readonly subject: string } }
  | { ok: false; status: 401 | 403 | 503; reason: string; message: string };

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
  /** Tokens remembered. Default 10,000. */
  maxEntries?: number;
  /** Services remembered per token (SubjectAccessReview answers). Default 32. */
  maxServicesPerToken?: number;
  /** A review not answered in this time fails (503). Default 5 s. */
  timeoutMs?: number;
  /** Reviews waiting for the API server at once; past it, requests needing a new review get 503. Default 1,000. */
  maxInFlight?: number;
  registry?: Registry;
}

/** A token's review, and the access answers for it by namespace then name (bounded per token). */
interface TokenEntry {
  /** The token itself, when short enough to be kept (MAX_RAW_TOKEN); a long one is known by its SHA-256. */
  token: string | undefined;
  answer: TokenReviewAnswer;
  until: number;
  access: Map<string, Map<string, AccessEntry>>;
  accessCount: number;
}

interface AccessEntry {
  decision: KubeDecision;
  until: number;
}

const REVIEW_FAILED = 'kube_review_failed';

/** Distinct audience sets cached at once (one per `sluice.dev/auth-kubernetes-audiences` value in use). */
const MAX_AUDIENCE_SETS = 1000;

/**
 * An authenticated answer to a review that asked for audiences counts only when its status names one of them:
 * an API server that ignores `spec.audiences` (not audience-aware) must not pass a token meant for another
 * audience (the TokenReview API's own advice).
 */
function checkAudiences(answer: TokenReviewAnswer, aud: KubeAudiences): TokenReviewAnswer {
  const asked = aud.audiences;
  if (asked.length === 0 || !answer.authenticated) return answer;
  if (answer.audiences !== undefined && answer.audiences.some((a) => asked.includes(a))) return answer;
  return { authenticated: false, error: `the token is not meant for any of the audiences ${asked.join(', ')} (${aud.source ?? 'sluice.dev/auth-kubernetes-audiences'})` };
}

export class KubeAuth {
  readonly verb: string;
  readonly resource: string;
  /**
   * Audience set (its key) → token → its review (token-cache.ts); the oldest (of the largest set) dropped first
   * past `maxEntries` in total. A token accepted for one audience set is reviewed again for another. At most
   * MAX_AUDIENCE_SETS sets (past it, every answer is dropped).
   */
  private readonly tokens: TokenCache<TokenEntry>;
  private readonly pendingTokens = new Map<string, Promise<TokenEntry>>();
  private readonly pendingAccess = new Map<TokenEntry, Map<string, Promise<KubeDecision>>>();
  private pendingCount = 0;
  private readonly maxPerToken: number;
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
    this.tokens = new TokenCache(o.maxEntries ?? 10_000, MAX_AUDIENCE_SETS);
    this.maxPerToken = o.maxServicesPerToken ?? 32;
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

  /**
   * Decides for a bearer token and a service (whose token must be meant for `aud`); synchronous when both answers
   * are cached (allocating nothing for the last hit's token, else the tail string it is found by).
   */
  check(token: string, namespace: string, name: string, aud: KubeAudiences = NO_AUDIENCES): KubeDecision | Promise<KubeDecision> {
    const now = this.o.clock.now();
    const t = this.tokens.get(aud.key, token, now);
    if (t !== undefined) return this.afterToken(t, namespace, name, now);
    const review = this.reviewToken(token, aud);
    if (review === null) return this.busy();
    return review.then(
      (entry) => this.afterToken(entry, namespace, name, this.o.clock.now()),
      (err: unknown) => this.failed('TokenReview', 'tokenreviews.authentication.k8s.io', err),
    );
  }

  private afterToken(t: TokenEntry, namespace: string, name: string, now: number): KubeDecision | Promise<KubeDecision> {
    const answer = t.answer;
    if (!answer.authenticated) {
      const why = answer.error ? `: ${answer.error}` : '';
      return { ok: false, status: 401, reason: 'kube_unauthenticated', message: `the Kubernetes API server did not authenticate the bearer token (TokenReview${why})` };
    }
    const byName = t.access.get(namespace);
    const a = byName?.get(name);
    if (a !== undefined && a.until > now) return a.decision;
    const review = this.reviewAccess(t, answer.user, namespace, name);
    if (review === null) return this.busy();
    return review;
  }

  private reviewToken(token: string, aud: KubeAudiences): Promise<TokenEntry> | null {
    // Pending reviews are shared by the same token only (never by another with the same tail).
    const id = tokenId(token);
    const pkey = aud.audiences.length === 0 ? id : `${aud.key}\n${id}`;
    const pending = this.pendingTokens.get(pkey);
    if (pending !== undefined) return pending;
    if (this.pendingCount >= this.maxInFlight) return null;
    this.tokenReviews++;
    this.pendingCount++;
    const p = this.withTimeout(this.o.api.tokenReview(token, aud.audiences), 'TokenReview').then(
      (given) => {
        this.pendingTokens.delete(pkey);
        this.pendingCount--;
        const answer = checkAudiences(given, aud);
        const entry: TokenEntry = { token: keptToken(token), answer, until: this.o.clock.now() + (answer.authenticated ? this.tokenTtl : this.tokenNegTtl), access: new Map(), accessCount: 0 };
        this.tokens.set(aud.key, token, entry);
        this.reviewsCounter?.inc({ review: 'token', result: answer.authenticated ? 'authenticated' : 'unauthenticated' });
        return entry;
      },
      (err: unknown) => {
        this.pendingTokens.delete(pkey);
        this.pendingCount--;
        this.reviewsCounter?.inc({ review: 'token', result: 'error' });
        throw err;
      },
    );
    this.pendingTokens.set(pkey, p);
    return p;
  }

  private reviewAccess(t: TokenEntry, user: KubeUser, namespace: string, name: string): Promise<KubeDecision> | null {
    let forToken = this.pendingAccess.get(t);
    const pkey = `${namespace}/${name}`;
    const pending = forToken?.get(pkey);
    if (pending !== undefined) return pending;
    if (this.pendingCount >= this.maxInFlight) return null;
    this.accessReviews++;
    this.pendingCount++;
    const attrs: AccessAttributes = { verb: this.verb, group: this.o.group, resource: this.resource, namespace, name };
    const done = (): void => {
      this.pendingCount--;
      const m = this.pendingAccess.get(t);
      m?.delete(pkey);
      if (m !== undefined && m.size === 0) this.pendingAccess.delete(t);
    };
    const p = this.withTimeout(this.o.api.accessReview(user, attrs), 'SubjectAccessReview').then(
      (answer): KubeDecision => {
        done();
        const decision = this.decide(answer, user, namespace, name);
        this.remember(t, namespace, name, decision, this.o.clock.now() + (answer.allowed ? this.accessTtl : this.accessNegTtl));
        this.reviewsCounter?.inc({ review: 'access', result: answer.allowed ? 'allowed' : 'denied' });
        return decision;
      },
      (err: unknown): KubeDecision => {
        done();
        this.reviewsCounter?.inc({ review: 'access', result: 'error' });
        return this.failed('SubjectAccessReview', 'subjectaccessreviews.authorization.k8s.io', err);
      },
    );
    if (forToken === undefined) {
      forToken = new Map();
      this.pendingAccess.set(t, forToken);
    }
    forToken.set(pkey, p);
    return p;
  }

  private remember(t: TokenEntry, namespace: string, name: string, decision: KubeDecision, until: number): void {
    let byName = t.access.get(namespace);
    if (byName === undefined) {
      byName = new Map();
      t.access.set(namespace, byName);
    }
    if (!byName.has(name)) {
      if (t.accessCount >= this.maxPerToken) {
        // Past the bound, this token's answers start again (a token calling more than 32 services is rare).
        t.access.clear();
        t.accessCount = 0;
        t.access.set(namespace, byName = new Map());
      }
      t.accessCount++;
    }
    byName.set(name, { decision, until });
  }

  private decide(a: AccessAnswer, user: KubeUser, namespace: string, name: string): KubeDecision {
    if (a.allowed) return { ok: true, user, principal: { method: 'kubernetes', subject: user.username } };
    return {
      ok: false,
      status: 403,
      reason: 'kube_access_denied',
      message: `Kubernetes RBAC does not allow "${user.username}" to ${this.describe(namespace, name)} (rule: sluice.dev/auth: kubernetes, SubjectAccessReview${a.reason ? `: ${a.reason}` : ''})`,
    };
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
    let access = 0;
    for (const t of this.tokens.values()) access += t.accessCount;
    return { tokens: this.tokens.size, access };
  }
}
