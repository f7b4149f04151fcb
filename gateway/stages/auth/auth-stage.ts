/**
 * The data plane's authentication and authorisation, as a routed stage: once the route is known, the service's
 * policy (its `sluice.dev/auth*` annotations, else the gateway-wide default) decides who may call it. A refused
 * request is answered here, before it is admitted, so it never wakes a revision at zero, never reaches a replica
 * and never counts as demand. Model readiness and metadata probes (`GET /v1/models/<m>`, `/v2/models/<m>[/ready]`)
 * stay open, as the gateway answers them at zero; its own endpoints (`/v2/health/*`, `/readyz`) never reach stages. docs/security.md lists the rules and their errors.
 *
 * - `api-key`: `Authorization: Bearer sk-sluice-…` or `X-API-Key: sk-sluice-…`, looked up by its SHA-256 in the
 *   key directory; the key's scopes must include the service (else 403).
 * - `jwt`: `Authorization: Bearer <JWT>` verified with jose against the issuer's JWKS (jwks.ts), cached
 *   (jwt-verifier.ts).
 * - `kubernetes` (cluster mode): `Authorization: Bearer <Kubernetes token>` checked by the API server with a
 *   TokenReview (for the service's `sluice.dev/auth-kubernetes-audiences`, else the `kubernetesAudiences`
 *   setting's, if any) and a SubjectAccessReview (`get` on the InferenceService), both cached (kube-reviews.ts).
 *
 * The caller's identity is kept on the exchange (`PRINCIPAL`) for later stages (logging, tracing) and sent to the
 * replica as `x-sluice-subject` and `x-sluice-key-id`; those headers from the client are always dropped (no
 * spoofing). The client's own credentials are dropped before forwarding unless the service asks for them.
 */
import { Counter, type Registry } from 'prom-client';
import { defaultAudiences, jwtPolicyKey, kubernetesPolicy, type AuthPolicy } from '../../../api/auth-policy.js';
import type { Route } from '../../../api/route.js';
import { hashApiKey, looksLikeApiKey, scopeAllows, type ApiKeyRecord } from '../../../api/api-keys.js';
import { AttributeKey, type Exchange } from '../../exchange.js';
import { upstreamDrop } from '../../forward-headers.js';
import { parseModelProbe } from '../../model-probes.js';
import type { Admission, HeaderBag, Refusal, Stage } from '../../stage.js';
import { TokenRefused, type JwtVerifier } from './jwt-verifier.js';
import type { KubeAudiences, KubeAuth, KubeDecision } from './kube-reviews.js';
import { CALLER_KEY_ID } from '../client-identity.js';

/** Who called, once authenticated. */
export interface Principal {
  method: 'api-key' | 'jwt' | 'kubernetes';
  /** The JWT's `sub`, `apikey:<name>` for a key, or the Kubernetes user name (`system:serviceaccount:<ns>:<sa>`). */
  subject: string;
  /** The API key's id (never the key). */
  keyId?: string;
}

export const PRINCIPAL = new AttributeKey<Principal>('principal');
export const SUBJECT_HEADER = 'x-sluice-subject';
export const KEY_ID_HEADER = 'x-sluice-key-id';
export const API_KEY_HEADER = 'x-api-key';

/** The keys the gateway knows, by hash (embedded: the state directory's; cluster: Redis's). */
export interface ApiKeyDirectory {
  byHash(hash: string): ApiKeyRecord | undefined;
  /** Changes whenever a key is added or removed (the stage's lookup cache is dropped then). Absent: no cache. */
  readonly version?: number;
}

/** Keys looked up recently (key → record), so a request costs one map lookup instead of a SHA-256. */
const KEY_CACHE_SIZE = 10_000;

export interface AuthStageOptions {
  /**
   * The policy of services without `sluice.dev/auth` (the `dataAuth` setting). A `jwt` default with no
   * audiences takes each service's own URLs as its audiences (`domain` makes them).
   */
  defaultPolicy: AuthPolicy;
  domain: string;
  keys: ApiKeyDirectory;
  /** Needed when some policy is `jwt`. */
  jwt: JwtVerifier | null;
  /** Needed when some policy is `kubernetes` (cluster mode); null elsewhere (such a service answers 503). */
  kube?: KubeAuth | null;
  /**
   * The `kubernetesAudiences` setting: what the TokenReview asks for when a `kubernetes` service (its own
   * `sluice.dev/auth`, or `dataAuth`) has no `sluice.dev/auth-kubernetes-audiences`. Absent or empty: none.
   */
  kubernetesAudiences?: readonly string[];
  registry?: Registry;
}

const REALM = 'Bearer realm="sluice"';

/** What the replica never gets from the client: identity headers (always), and its credentials once checked. */
const DROP_IDENTITY = upstreamDrop([SUBJECT_HEADER, KEY_ID_HEADER]);
const DROP_CREDENTIALS = upstreamDrop([SUBJECT_HEADER, KEY_ID_HEADER, 'authorization', API_KEY_HEADER]);

/** A key found in the directory, with the principal requests that carry it are given (made once, shared). */
interface KnownKey {
  record: ApiKeyRecord;
  principal: Principal;
}

export class AuthStage implements Stage {
  readonly name = 'auth';
  private readonly denied: Counter<'service' | 'reason'> | null;
  /** The default JWT policy with each service's audiences, per route (routes are replaced whole on change). */
  private readonly perRoute = new WeakMap<Route, AuthPolicy>();
  /** Valid keys seen (the key itself → its record and principal), for the directory version `keyCacheVersion`; dropped whole when it changes (revocation). */
  private readonly keyCache = new Map<string, KnownKey>();
  private keyCacheVersion: number | undefined = undefined;
  /** The audiences of `kubernetes` services that name none (`kubernetesAudiences`); their own cache key. */
  private readonly kubeDefault: KubeAudiences;

  constructor(private readonly o: AuthStageOptions) {
    const auds = kubernetesPolicy(o.kubernetesAudiences ?? []);
    // (Its own cache key: a refusal cached for it names the setting, not a service's annotation.)
    this.kubeDefault = auds.audiences.length === 0 ? auds : { key: `setting:${auds.key}`, audiences: auds.audiences, source: 'the kubernetesAudiences setting' };
    this.denied = o.registry
      ? new Counter({
          name: 'sluice_auth_denied_total',
          help: 'Data-plane requests refused by the auth stage, by service and reason',
          labelNames: ['service', 'reason'],
          registers: [o.registry],
        })
      : null;
  }

  onRouted(ex: Exchange): Admission | Promise<Admission> {
    const route = ex.match!.route;
    const policy = route.auth ?? this.defaultFor(route);
    // The client's identity headers are never forwarded, nor its credentials once checked (unless the service
    // asks for them): they are left out when the upstream headers are built, not deleted from them afterwards.
    ex.upstreamDrop = DROP_IDENTITY;
    if (policy.mode === 'none') return undefined;
    // Model readiness and metadata probes stay open, warm or at zero (load balancers and KServe clients probe them).
    const method = ex.req.method;
    if ((method === 'GET' || method === 'HEAD') && parseModelProbe(ex.match!.path) !== null) return undefined;
    if (route.forwardCredentials !== true) ex.upstreamDrop = DROP_CREDENTIALS;
    // (`ns/name` is made only for a refusal: a request let through allocates nothing here.)
    if (policy.mode === 'api-key') return this.apiKey(ex, route);
    if (policy.mode === 'kubernetes') return this.kubernetes(ex, route, policy.audiences.length > 0 ? policy : this.kubeDefault);
    const token = bearer(ex.req.headers.authorization);
    if (token === null) return this.refuse(nameOf(route), 'missing', 401, `${nameOf(route)} needs a bearer token (JWT): send "Authorization: Bearer <token>"`, REALM);
    const v = this.o.jwt;
    if (v === null) return this.refuse(nameOf(route), 'not_configured', 503, 'JWT verification is not configured on this gateway');
    const hit = v.cached(policy.key, token);
    if (hit !== undefined) {
      ex.set(PRINCIPAL, hit.principal);
      return undefined;
    }
    return v.verify(policy.jwt, token, policy.key).then(
      (ok) => {
        ex.set(PRINCIPAL, ok.principal);
        return undefined;
      },
      (err: unknown) => {
        if (!(err instanceof TokenRefused)) throw err;
        return err.status === 401
          ? this.refuse(nameOf(route), err.reason, 401, err.message, `${REALM}, error="invalid_token", error_description="${err.message.replace(/"/g, "'")}"`)
          : this.refuse(nameOf(route), err.reason, 403, err.message, `${REALM}, error="insufficient_scope"`);
      },
    );
  }

  private defaultFor(route: Route): AuthPolicy {
    const d = this.o.defaultPolicy;
    if (d.mode !== 'jwt' || d.jwt.audiences.length > 0) return d;
    let p = this.perRoute.get(route);
    if (p === undefined) {
      const jwt = { ...d.jwt, audiences: defaultAudiences([`${route.service}.${route.namespace}.${this.o.domain}`, ...route.hosts]) };
      p = { mode: 'jwt', key: jwtPolicyKey(jwt), jwt };
      this.perRoute.set(route, p);
    }
    return p;
  }

  private apiKey(ex: Exchange, route: Route): Admission {
    const h = ex.req.headers;
    const given = (h[API_KEY_HEADER] as string | undefined) ?? bearer(h.authorization);
    if (given === null || given === undefined)
      return this.refuse(nameOf(route), 'missing', 401, `${nameOf(route)} needs an API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"`, REALM);
    const known = this.lookupKey(given);
    if (known === undefined)
      return this.refuse(nameOf(route), 'unknown_key', 401, 'the API key is not valid (unknown or revoked)', `${REALM}, error="invalid_token", error_description="unknown or revoked API key"`);
    const record = known.record;
    if (!scopeAllows(record.scopes, route.namespace, route.service))
      return this.refuse(
        nameOf(route),
        'key_scope',
        403,
        `API key ${record.id} (${record.name}) is not scoped to ${nameOf(route)} (rule: api-key scopes)`,
        `${REALM}, error="insufficient_scope"`,
      );
    ex.set(PRINCIPAL, known.principal);
    // per-client rate limits, composed after this stage, count this key rather than the address
    ex.set(CALLER_KEY_ID, record.id);
    return undefined;
  }

  private kubernetes(ex: Exchange, route: Route, policy: KubeAudiences): Admission | Promise<Admission> {
    const token = bearer(ex.req.headers.authorization);
    if (token === null)
      return this.refuse(nameOf(route), 'missing', 401, `${nameOf(route)} needs a Kubernetes bearer token: send "Authorization: Bearer <token>" (e.g. a service account token)`, REALM);
    const kube = this.o.kube;
    if (kube === undefined || kube === null)
      return this.refuse(nameOf(route), 'not_configured', 503, 'Kubernetes token review is not configured on this gateway (sluice.dev/auth: kubernetes and dataAuth: kubernetes need cluster mode)');
    const d = kube.check(token, route.namespace, route.service, policy);
    return d instanceof Promise ? d.then((r) => this.kubeAdmission(ex, route, r)) : this.kubeAdmission(ex, route, d);
  }

  private kubeAdmission(ex: Exchange, route: Route, d: KubeDecision): Admission {
    if (d.ok) {
      ex.set(PRINCIPAL, d.principal);
      return undefined;
    }
    const service = nameOf(route);
    if (d.status === 401)
      return this.refuse(service, d.reason, 401, d.message, `${REALM}, error="invalid_token", error_description="${d.message.replace(/"/g, "'")}"`);
    if (d.status === 403) return this.refuse(service, d.reason, 403, d.message, `${REALM}, error="insufficient_scope"`);
    return this.refuse(service, d.reason, 503, d.message);
  }

  private lookupKey(given: string): KnownKey | undefined {
    const v = this.o.keys.version;
    if (v === undefined) return this.findKey(given);
    if (v !== this.keyCacheVersion) {
      this.keyCache.clear();
      this.keyCacheVersion = v;
    }
    const hit = this.keyCache.get(given);
    if (hit !== undefined) return hit;
    const known = this.findKey(given);
    if (known !== undefined) {
      if (this.keyCache.size >= KEY_CACHE_SIZE) this.keyCache.delete(this.keyCache.keys().next().value as string);
      this.keyCache.set(given, known);
    }
    return known;
  }

  private findKey(given: string): KnownKey | undefined {
    const record = looksLikeApiKey(given) ? this.o.keys.byHash(hashApiKey(given)) : undefined;
    return record === undefined ? undefined : { record, principal: { method: 'api-key', subject: `apikey:${record.name}`, keyId: record.id } };
  }

  private refuse(service: string, reason: string, status: number, message: string, challenge?: string): Refusal {
    this.denied?.inc({ service, reason });
    return { status, message, headers: challenge ? { 'www-authenticate': challenge, 'cache-control': 'no-store' } : { 'cache-control': 'no-store' } };
  }

  /** Only a caller with an identity gets headers; the client's identity headers are left out by `upstreamDrop`. */
  wantsUpstreamHeaders(ex: Exchange): boolean {
    return ex.upstreamDrop === null || ex.get(PRINCIPAL) !== undefined;
  }

  onUpstreamHeaders(ex: Exchange, headers: HeaderBag): void {
    // Identity headers come from this stage only. The client's were left out already (`upstreamDrop`, set in
    // onRouted); the deletes below are for a forward that built its headers without it, and `delete` only what is
    // there: deleting a property moves the object to V8's slow dictionary mode, which every later read pays for.
    const p = ex.get(PRINCIPAL);
    if (p === undefined) {
      if (headers[SUBJECT_HEADER] !== undefined) delete headers[SUBJECT_HEADER];
      if (headers[KEY_ID_HEADER] !== undefined) delete headers[KEY_ID_HEADER];
      return;
    }
    headers[SUBJECT_HEADER] = p.subject;
    if (p.keyId !== undefined) headers[KEY_ID_HEADER] = p.keyId;
    else if (headers[KEY_ID_HEADER] !== undefined) delete headers[KEY_ID_HEADER];
    if (ex.match?.route.forwardCredentials !== true) {
      if (headers.authorization !== undefined) delete headers.authorization;
      if (headers[API_KEY_HEADER] !== undefined) delete headers[API_KEY_HEADER];
    }
  }
}

function nameOf(route: Route): string {
  return `${route.namespace}/${route.service}`;
}

/** The token of `Authorization: Bearer <token>`, or null. The scheme is compared without allocating. */
export function bearer(value: string | undefined): string | null {
  if (value === undefined || value.length < 8) return null;
  if (
    value.charCodeAt(6) !== 32 ||
    (value.charCodeAt(0) | 0x20) !== 98 || // b
    (value.charCodeAt(1) | 0x20) !== 101 || // e
    (value.charCodeAt(2) | 0x20) !== 97 || // a
    (value.charCodeAt(3) | 0x20) !== 114 || // r
    (value.charCodeAt(4) | 0x20) !== 101 || // e
    (value.charCodeAt(5) | 0x20) !== 114 // r
  )
    return null;
  // Trim only when there is something to trim (Node already strips the header value's outer whitespace).
  const t = value.charCodeAt(7) > 32 && value.charCodeAt(value.length - 1) > 32 ? value.slice(7) : value.slice(7).trim();
  return t === '' ? null : t;
}
