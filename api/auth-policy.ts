/**
 * Who may call an InferenceService: its `sluice.dev/auth*` annotations, checked when a spec is applied, and the
 * policy the gateway's auth stage enforces (gateway/stages/auth/). A service without `sluice.dev/auth` follows the
 * gateway-wide default (the `dataAuth` setting). docs/security.md lists every rule and its error.
 */
import { KUBERNETES_AUDIENCE, MAX_KUBERNETES_AUDIENCE_LENGTH, MAX_KUBERNETES_AUDIENCES } from '../core/config-table.js';
import type { FieldIssue } from '../core/errors.js';
import { describeValue } from './issues.js';

export const AUTH_PREFIX = 'sluice.dev/auth';
/** `none` | `api-key` | `jwt` | `kubernetes` (cluster mode: TokenReview + SubjectAccessReview). */
export const AUTH_ANNOTATION = 'sluice.dev/auth';
export const JWT_ISSUER_ANNOTATION = 'sluice.dev/auth-jwt-issuer';
/** Comma-separated; any one matching `aud` passes (Cloud Run's custom audiences). Default: the service's URLs. */
export const JWT_AUDIENCES_ANNOTATION = 'sluice.dev/auth-jwt-audiences';
/** Comma-separated JWS algorithms; default RS256,ES256. `none` and HS* are never accepted (keys come from a JWKS). */
export const JWT_ALGORITHMS_ANNOTATION = 'sluice.dev/auth-jwt-algorithms';
/** Comma-separated `claim` (must be present) or `claim=value` (must equal, or an array claim must contain it). */
export const JWT_REQUIRED_CLAIMS_ANNOTATION = 'sluice.dev/auth-jwt-required-claims';
export const JWT_JWKS_URL_ANNOTATION = 'sluice.dev/auth-jwt-jwks-url';
/**
 * With `kubernetes`: comma-separated audiences the token must be meant for (the TokenReview's `spec.audiences`;
 * any one passes). Default: none asked, so the API server checks its own audience (a plain service account token).
 */
export const KUBERNETES_AUDIENCES_ANNOTATION = 'sluice.dev/auth-kubernetes-audiences';
/** `true`: the client's Authorization / X-API-Key header reaches the replica (default: stripped). */
export const FORWARD_CREDENTIALS_ANNOTATION = 'sluice.dev/auth-forward-credentials';

export type AuthMode = 'none' | 'api-key' | 'jwt' | 'kubernetes';
export const AUTH_MODES: readonly AuthMode[] = ['none', 'api-key', 'jwt', 'kubernetes'];
/**
 * A Kubernetes bearer token (a service account's, or any the API server authenticates), checked with a TokenReview
 * and then a SubjectAccessReview (`get` on the InferenceService). Cluster mode only: embedded mode has no API server
 * and refuses the annotation at apply (deploy/controller.ts).
 */
export const KUBERNETES_AUTH_MODE = 'kubernetes';
export const KUBERNETES_AUTH_EMBEDDED =
  '"kubernetes" needs a Kubernetes API server to review tokens (TokenReview, SubjectAccessReview), which embedded mode (sluice serve) does not have: use api-key or jwt here, or run in cluster mode (docs/security.md)';

/** Asymmetric JWS algorithms a JWKS can carry keys for. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = ['RS256', 'ES256'];

export interface RequiredClaim {
  name: string;
  /** Absent: the claim must only be present. */
  value?: string;
}

export interface JwtRules {
  issuer: string;
  audiences: readonly string[];
  algorithms: readonly string[];
  requiredClaims: readonly RequiredClaim[];
  jwksUrl: string;
}

/** What the auth stage enforces for one service. `key` identifies equal policies (the verified-token cache's key). */
export type AuthPolicy =
  | { mode: 'none'; key: string }
  | { mode: 'api-key'; key: string }
  | { mode: 'kubernetes'; key: string; audiences: readonly string[] }
  | { mode: 'jwt'; key: string; jwt: JwtRules };

const KNOWN = new Set([
  AUTH_ANNOTATION,
  JWT_ISSUER_ANNOTATION,
  JWT_AUDIENCES_ANNOTATION,
  JWT_ALGORITHMS_ANNOTATION,
  JWT_REQUIRED_CLAIMS_ANNOTATION,
  JWT_JWKS_URL_ANNOTATION,
  KUBERNETES_AUDIENCES_ANNOTATION,
  FORWARD_CREDENTIALS_ANNOTATION,
]);

/** Bounds of `sluice.dev/auth-kubernetes-audiences` (each audience a URL or name without spaces or commas): the `kubernetesAudiences` setting's. */
const MAX_KUBE_AUDIENCES = MAX_KUBERNETES_AUDIENCES;
const MAX_KUBE_AUDIENCE_LENGTH = MAX_KUBERNETES_AUDIENCE_LENGTH;
const KUBE_AUDIENCE = KUBERNETES_AUDIENCE;

const CLAIM = /^[A-Za-z0-9_.:-]{1,128}$/;

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function httpUrl(v: string, httpsOnly: boolean): string | null {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `expected an absolute URL, got ${describeValue(v)}`;
  }
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:' && !httpsOnly) return null;
  return `expected an ${httpsOnly ? 'https' : 'http or https'} URL, got ${describeValue(v)}`;
}

/**
 * Checks the `sluice.dev/auth*` annotations of a spec (unknown keys under the prefix are errors: a typo there
 * would leave a service open). `path` prefixes issue paths.
 */
export function checkAuthAnnotations(annotations: Readonly<Record<string, unknown>>, path = 'metadata.annotations'): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const at = (k: string): string => `${path}[${JSON.stringify(k)}]`;
  const str = (k: string): string | undefined => (typeof annotations[k] === 'string' ? (annotations[k] as string) : undefined);
  for (const k of Object.keys(annotations)) {
    if (k.startsWith(AUTH_PREFIX) && !KNOWN.has(k)) issues.push({ path: at(k), message: `unknown auth annotation (known: ${[...KNOWN].join(', ')})` });
  }
  const mode = str(AUTH_ANNOTATION);
  if (mode !== undefined && !(AUTH_MODES as readonly string[]).includes(mode))
    issues.push({ path: at(AUTH_ANNOTATION), message: `${describeValue(mode)} is not one of ${AUTH_MODES.join(', ')}` });
  const fwd = str(FORWARD_CREDENTIALS_ANNOTATION);
  if (fwd !== undefined && fwd !== 'true' && fwd !== 'false')
    issues.push({ path: at(FORWARD_CREDENTIALS_ANNOTATION), message: `${describeValue(fwd)} is not one of true, false` });
  const kubeAuds = str(KUBERNETES_AUDIENCES_ANNOTATION);
  if (kubeAuds !== undefined) {
    if (mode !== 'kubernetes') issues.push({ path: at(KUBERNETES_AUDIENCES_ANNOTATION), message: `only read when ${AUTH_ANNOTATION} is "kubernetes"` });
    else issues.push(...kubernetesAudienceIssues(kubeAuds).map((message) => ({ path: at(KUBERNETES_AUDIENCES_ANNOTATION), message })));
  }
  const jwtKeys = [JWT_ISSUER_ANNOTATION, JWT_AUDIENCES_ANNOTATION, JWT_ALGORITHMS_ANNOTATION, JWT_REQUIRED_CLAIMS_ANNOTATION, JWT_JWKS_URL_ANNOTATION];
  if (mode !== 'jwt') {
    for (const k of jwtKeys) if (str(k) !== undefined) issues.push({ path: at(k), message: `only read when ${AUTH_ANNOTATION} is "jwt"` });
    return issues;
  }
  const issuer = str(JWT_ISSUER_ANNOTATION);
  if (issuer === undefined || issuer.trim() === '') issues.push({ path: at(JWT_ISSUER_ANNOTATION), message: `required when ${AUTH_ANNOTATION} is "jwt" (the "iss" every token must carry)` });
  const jwks = str(JWT_JWKS_URL_ANNOTATION);
  if (jwks === undefined) issues.push({ path: at(JWT_JWKS_URL_ANNOTATION), message: `required when ${AUTH_ANNOTATION} is "jwt" (where the issuer publishes its keys)` });
  else {
    const p = httpUrl(jwks, false);
    if (p) issues.push({ path: at(JWT_JWKS_URL_ANNOTATION), message: p });
  }
  const auds = str(JWT_AUDIENCES_ANNOTATION);
  if (auds !== undefined) {
    const l = list(auds);
    if (l.length === 0) issues.push({ path: at(JWT_AUDIENCES_ANNOTATION), message: 'expected one or more audiences separated by commas' });
    if (auds.length > 32_768) issues.push({ path: at(JWT_AUDIENCES_ANNOTATION), message: `longer than 32768 characters (${auds.length})` });
  }
  const algs = str(JWT_ALGORITHMS_ANNOTATION);
  if (algs !== undefined) {
    const l = list(algs);
    if (l.length === 0) issues.push({ path: at(JWT_ALGORITHMS_ANNOTATION), message: `expected algorithms separated by commas, from ${JWT_ALGORITHMS.join(', ')}` });
    for (const a of l)
      if (!(JWT_ALGORITHMS as readonly string[]).includes(a))
        issues.push({
          path: at(JWT_ALGORITHMS_ANNOTATION),
          message: `${describeValue(a)} is not accepted (allowed: ${JWT_ALGORITHMS.join(', ')}; "none" and HMAC algorithms never are, since keys come from a JWKS)`,
        });
  }
  const claims = str(JWT_REQUIRED_CLAIMS_ANNOTATION);
  if (claims !== undefined) {
    for (const c of list(claims)) {
      const name = c.includes('=') ? c.slice(0, c.indexOf('=')) : c;
      if (!CLAIM.test(name)) issues.push({ path: at(JWT_REQUIRED_CLAIMS_ANNOTATION), message: `${describeValue(c)}: expected "claim" or "claim=value" (claim names: letters, digits, _ . : -)` });
    }
  }
  return issues;
}

/** What is wrong with a `sluice.dev/auth-kubernetes-audiences` value (empty: nothing). */
export function kubernetesAudienceIssues(v: string): string[] {
  const l = list(v);
  if (l.length === 0) return ['expected one or more audiences separated by commas'];
  const out: string[] = [];
  if (l.length > MAX_KUBE_AUDIENCES) out.push(`${l.length} audiences: at most ${MAX_KUBE_AUDIENCES}`);
  for (const a of l) {
    if (a.length > MAX_KUBE_AUDIENCE_LENGTH) out.push(`an audience longer than ${MAX_KUBE_AUDIENCE_LENGTH} characters (${a.length})`);
    else if (!KUBE_AUDIENCE.test(a)) out.push(`${describeValue(a)}: an audience is printable ASCII without spaces`);
  }
  return out;
}

/** The policy for Kubernetes tokens, with the audiences the TokenReview asks for (none: the API server's own). */
export function kubernetesPolicy(audiences: readonly string[]): Extract<AuthPolicy, { mode: 'kubernetes' }> {
  const auds = [...new Set(audiences)].sort();
  return { mode: 'kubernetes', key: auds.length === 0 ? 'kubernetes' : `kubernetes:${auds.join(',')}`, audiences: auds };
}

/** The service's default JWT audiences: its URL and its predictor's, with and without TLS (Cloud Run's rule). */
export function defaultAudiences(hosts: readonly string[]): string[] {
  return hosts.flatMap((h) => [`https://${h}`, `http://${h}`]);
}

/**
 * The policy of a service from its (validated) annotations, or null when it has no `sluice.dev/auth` annotation
 * and follows the gateway-wide default. `hosts` are the service's own host names (its default JWT audiences).
 */
export function authPolicyOf(annotations: Readonly<Record<string, string>>, hosts: readonly string[]): AuthPolicy | null {
  const mode = annotations[AUTH_ANNOTATION] as AuthMode | undefined;
  if (mode === undefined || !(AUTH_MODES as readonly string[]).includes(mode)) return null;
  const a = (k: string): string | undefined => annotations[k];
  if (mode === 'kubernetes') return kubernetesPolicy(list(a(KUBERNETES_AUDIENCES_ANNOTATION) ?? ''));
  if (mode !== 'jwt') return { mode, key: mode };
  const jwt: JwtRules = {
    issuer: a(JWT_ISSUER_ANNOTATION) ?? '',
    audiences: a(JWT_AUDIENCES_ANNOTATION) !== undefined ? list(a(JWT_AUDIENCES_ANNOTATION)!) : defaultAudiences(hosts),
    algorithms: a(JWT_ALGORITHMS_ANNOTATION) !== undefined ? list(a(JWT_ALGORITHMS_ANNOTATION)!) : DEFAULT_JWT_ALGORITHMS,
    requiredClaims: parseRequiredClaims(a(JWT_REQUIRED_CLAIMS_ANNOTATION) ?? ''),
    jwksUrl: a(JWT_JWKS_URL_ANNOTATION) ?? '',
  };
  return { mode, key: jwtPolicyKey(jwt), jwt };
}

export function parseRequiredClaims(v: string): RequiredClaim[] {
  return list(v).map((c) => {
    const eq = c.indexOf('=');
    return eq === -1 ? { name: c } : { name: c.slice(0, eq), value: c.slice(eq + 1) };
  });
}

/** `sluice.dev/auth-forward-credentials: "true"`: the service asks for the client's credentials. */
export function forwardsCredentials(annotations: Readonly<Record<string, string>>): boolean {
  return annotations[FORWARD_CREDENTIALS_ANNOTATION] === 'true';
}

/** Equal rules give equal keys (tokens verified for one service are reused for another with the same rules). */
export function jwtPolicyKey(j: JwtRules): string {
  return JSON.stringify(['jwt', j.issuer, [...j.audiences].sort(), [...j.algorithms].sort(), j.requiredClaims, j.jwksUrl]);
}

/**
 * Warnings about auth annotations Sluice does not read: OpenDataHub's `serving.kserve.io/enable-auth` and
 * `security.opendatahub.io/enable-auth` (Kubernetes-token auth there) would otherwise look like auth is on.
 */
export function authWarnings(annotations: Readonly<Record<string, unknown>>, path = 'metadata.annotations'): string[] {
  if (annotations[AUTH_ANNOTATION] !== undefined) return [];
  return ['serving.kserve.io/enable-auth', 'security.opendatahub.io/enable-auth']
    .filter((k) => annotations[k] === 'true')
    .map((k) => `${path}[${JSON.stringify(k)}]: not read by Sluice; the service follows the gateway's default (dataAuth) — set sluice.dev/auth: kubernetes (Kubernetes tokens and RBAC, as OpenDataHub; cluster mode), api-key or jwt (docs/security.md)`);
}
