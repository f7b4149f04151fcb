/**
 * A service's ingress policy, from its annotations: who may reach it (visibility, CIDR allowlist), how much (body
 * size, rate limits) and from which browser origins (CORS). Checked at the boundary (`checkIngressAnnotations`,
 * errors name the annotation) and read into an immutable policy the data plane carries on the service's route.
 */
import ipaddr from 'ipaddr.js';
import type { FieldIssue } from '../core/errors.js';
import { HTTP_TOKEN } from '../core/http-grammar.js';
import { describeValue } from './issues.js';

/** KServe's visibility annotation and Knative's (a label there; read as an annotation here). */
export const KSERVE_VISIBILITY = 'networking.kserve.io/visibility';
export const KNATIVE_VISIBILITY = 'networking.knative.dev/visibility';
/** Cloud Run's ingress setting, as an annotation: `all` (default) or `internal`. */
export const INGRESS_ANNOTATION = 'sluice.dev/ingress';
export const MAX_REQUEST_BYTES_ANNOTATION = 'sluice.dev/max-request-bytes';
export const RATE_LIMIT_ANNOTATION = 'sluice.dev/rate-limit';
export const RATE_LIMIT_BURST_ANNOTATION = 'sluice.dev/rate-limit-burst';
export const CLIENT_RATE_LIMIT_ANNOTATION = 'sluice.dev/client-rate-limit';
export const CLIENT_RATE_LIMIT_BURST_ANNOTATION = 'sluice.dev/client-rate-limit-burst';
export const ALLOW_CIDRS_ANNOTATION = 'sluice.dev/allow-cidrs';
export const CORS_ORIGINS_ANNOTATION = 'sluice.dev/cors-allow-origins';
export const CORS_METHODS_ANNOTATION = 'sluice.dev/cors-allow-methods';
export const CORS_HEADERS_ANNOTATION = 'sluice.dev/cors-allow-headers';
export const CORS_EXPOSE_ANNOTATION = 'sluice.dev/cors-expose-headers';
export const CORS_MAX_AGE_ANNOTATION = 'sluice.dev/cors-max-age';
export const CORS_CREDENTIALS_ANNOTATION = 'sluice.dev/cors-allow-credentials';
/** Egress the service's pods may have in Kubernetes mode (CIDRs; DNS is always allowed), or `all`. */
export const EGRESS_ANNOTATION = 'sluice.dev/egress';

/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export interface BucketSpec {
  rate: number;
  burst: number;
}

export interface CorsPolicy {
  /** Exact origins (`https://app.example.com`), or `*` alone. */
  origins: readonly string[];
  methods: readonly string[];
  /** Lower case; `*` allows any. */
  headers: readonly string[];
  expose: readonly string[];
  maxAgeSeconds: number;
  credentials: boolean;
}

export interface IngressPolicy {
  /** Served only on the internal listener (cluster-local visibility, or `sluice.dev/ingress: internal`). */
  internal: boolean;
  /** Largest request body in bytes; null: the gateway-wide `maxRequestBytes`. */
  maxRequestBytes: number | null;
  /** Across every client of the service, per gateway group (shared through Redis in cluster mode). */
  rateLimit: BucketSpec | null;
  /** Per client of the service. */
  clientRateLimit: BucketSpec | null;
  /** CIDRs the (trusted) client address must be in; null: any. */
  allowCidrs: readonly string[] | null;
  cors: CorsPolicy | null;
  /** Kubernetes mode: null (no egress rule: all allowed), or CIDRs allowed besides DNS. */
  egressCidrs: readonly string[] | null;
}

const CORS_DEFAULT_METHODS = ['GET', 'POST', 'OPTIONS'];
const CORS_DEFAULT_MAX_AGE = 600;
const CORS_DEFAULT_HEADERS = ['content-type', 'authorization'];

type Check = (value: string) => string | null;

function positiveNumber(max: number): Check {
  return (v) => {
    const n = v.trim() === '' ? Number.NaN : Number(v);
    if (!Number.isFinite(n) || n <= 0) return `expected a number > 0, got ${describeValue(v)}`;
    return n > max ? `must be ≤ ${max}, got ${v}` : null;
  };
}

function integerIn(min: number, max: number): Check {
  return (v) => {
    const n = v.trim() === '' ? Number.NaN : Number(v);
    if (!Number.isInteger(n)) return `expected an integer, got ${describeValue(v)}`;
    return n < min || n > max ? `must be between ${min} and ${max}, got ${v}` : null;
  };
}

function words(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function cidrList(v: string): string | null {
  const items = words(v);
  if (items.length === 0) return 'expected one or more CIDRs separated by commas, e.g. "10.0.0.0/8,192.168.1.7/32"';
  for (const c of items) {
    try {
      ipaddr.parseCIDR(c);
    } catch {
      return `${describeValue(c)} is not a CIDR (address/prefix, e.g. 10.0.0.0/8 or fd00::/8)`;
    }
  }
  return null;
}


function tokenList(what: string): Check {
  return (v) => {
    const items = words(v);
    if (items.length === 0) return `expected one or more ${what} separated by commas`;
    const bad = items.find((i) => i !== '*' && !HTTP_TOKEN.test(i));
    return bad === undefined ? null : `${describeValue(bad)} is not a valid ${what.replace(/s$/, '')}`;
  };
}

function originList(v: string): string | null {
  const items = words(v);
  if (items.length === 0) return 'expected "*" or origins separated by commas, e.g. "https://app.example.com"';
  if (items.includes('*') && items.length > 1) return '"*" must stand alone';
  for (const o of items) {
    if (o === '*') continue;
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      return `${describeValue(o)} is not an origin (scheme://host[:port])`;
    }
    if (u.origin !== o) return `${describeValue(o)} is not an origin (scheme://host[:port], no path or trailing slash; did you mean "${u.origin}"?)`;
  }
  return null;
}

const CHECKS: Readonly<Record<string, Check>> = {
  [KSERVE_VISIBILITY]: (v) => (v === 'cluster-local' || v === 'external' ? null : `${describeValue(v)} is not one of cluster-local, external`),
  [KNATIVE_VISIBILITY]: (v) => (v === 'cluster-local' || v === 'external' ? null : `${describeValue(v)} is not one of cluster-local, external`),
  [INGRESS_ANNOTATION]: (v) => (v === 'all' || v === 'internal' ? null : `${describeValue(v)} is not one of all, internal`),
  [MAX_REQUEST_BYTES_ANNOTATION]: integerIn(1, Number.MAX_SAFE_INTEGER),
  [RATE_LIMIT_ANNOTATION]: positiveNumber(1_000_000),
  [RATE_LIMIT_BURST_ANNOTATION]: integerIn(1, 10_000_000),
  [CLIENT_RATE_LIMIT_ANNOTATION]: positiveNumber(1_000_000),
  [CLIENT_RATE_LIMIT_BURST_ANNOTATION]: integerIn(1, 10_000_000),
  [ALLOW_CIDRS_ANNOTATION]: cidrList,
  [CORS_ORIGINS_ANNOTATION]: originList,
  [CORS_METHODS_ANNOTATION]: tokenList('methods'),
  [CORS_HEADERS_ANNOTATION]: tokenList('header names'),
  [CORS_EXPOSE_ANNOTATION]: tokenList('header names'),
  [CORS_MAX_AGE_ANNOTATION]: integerIn(0, 86_400),
  [CORS_CREDENTIALS_ANNOTATION]: (v) => (v === 'true' || v === 'false' ? null : `${describeValue(v)} is not one of true, false`),
  [EGRESS_ANNOTATION]: (v) => (v === 'all' ? null : cidrList(v)),
};

/** Every ingress annotation this file reads (docs and tests list them). */
export const INGRESS_ANNOTATIONS: readonly string[] = Object.keys(CHECKS);

/** Checks the ingress annotations' values and how they combine; `path` prefixes issue paths. */
export function checkIngressAnnotations(annotations: Readonly<Record<string, unknown>>, path = 'metadata.annotations'): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const at = (key: string): string => `${path}[${JSON.stringify(key)}]`;
  for (const [key, value] of Object.entries(annotations)) {
    const check = CHECKS[key];
    if (check === undefined || typeof value !== 'string') continue;
    const problem = check(value);
    if (problem !== null) issues.push({ path: at(key), message: problem });
  }
  const str = (k: string): string | undefined => (typeof annotations[k] === 'string' ? (annotations[k] as string) : undefined);
  if (str(CORS_CREDENTIALS_ANNOTATION) === 'true' && str(CORS_ORIGINS_ANNOTATION)?.trim() === '*')
    issues.push({ path: at(CORS_CREDENTIALS_ANNOTATION), message: 'credentials cannot be allowed for every origin ("*"): list the origins in sluice.dev/cors-allow-origins' });
  for (const [burst, rate] of [
    [RATE_LIMIT_BURST_ANNOTATION, RATE_LIMIT_ANNOTATION],
    [CLIENT_RATE_LIMIT_BURST_ANNOTATION, CLIENT_RATE_LIMIT_ANNOTATION],
  ] as const) {
    if (str(burst) !== undefined && str(rate) === undefined) issues.push({ path: at(burst), message: `has no effect without ${rate}` });
  }
  for (const k of [CORS_METHODS_ANNOTATION, CORS_HEADERS_ANNOTATION, CORS_EXPOSE_ANNOTATION, CORS_MAX_AGE_ANNOTATION, CORS_CREDENTIALS_ANNOTATION]) {
    if (str(k) !== undefined && str(CORS_ORIGINS_ANNOTATION) === undefined) issues.push({ path: at(k), message: `has no effect without ${CORS_ORIGINS_ANNOTATION}` });
  }
  return issues;
}

function bucket(annotations: Readonly<Record<string, string>>, rateKey: string, burstKey: string): BucketSpec | null {
  const rate = annotations[rateKey];
  if (rate === undefined) return null;
  const r = Number(rate);
  const burst = annotations[burstKey];
  return { rate: r, burst: burst !== undefined ? Number(burst) : Math.max(1, Math.ceil(r)) };
}

/**
 * The policy of (already validated) annotations; undefined when none is set, so a service without one costs the
 * data plane nothing.
 */
export function ingressPolicy(annotations: Readonly<Record<string, string>>): IngressPolicy | undefined {
  if (!INGRESS_ANNOTATIONS.some((k) => annotations[k] !== undefined)) return undefined;
  const internal =
    annotations[KSERVE_VISIBILITY] === 'cluster-local' || annotations[KNATIVE_VISIBILITY] === 'cluster-local' || annotations[INGRESS_ANNOTATION] === 'internal';
  const maxBytes = annotations[MAX_REQUEST_BYTES_ANNOTATION];
  const origins = annotations[CORS_ORIGINS_ANNOTATION];
  const egress = annotations[EGRESS_ANNOTATION];
  const allow = annotations[ALLOW_CIDRS_ANNOTATION];
  return Object.freeze({
    internal,
    maxRequestBytes: maxBytes !== undefined ? Number(maxBytes) : null,
    rateLimit: bucket(annotations, RATE_LIMIT_ANNOTATION, RATE_LIMIT_BURST_ANNOTATION),
    clientRateLimit: bucket(annotations, CLIENT_RATE_LIMIT_ANNOTATION, CLIENT_RATE_LIMIT_BURST_ANNOTATION),
    allowCidrs: allow !== undefined ? words(allow) : null,
    cors:
      origins === undefined
        ? null
        : {
            origins: words(origins),
            methods: annotations[CORS_METHODS_ANNOTATION] !== undefined ? words(annotations[CORS_METHODS_ANNOTATION]).map((m) => m.toUpperCase()) : CORS_DEFAULT_METHODS,
            headers: annotations[CORS_HEADERS_ANNOTATION] !== undefined ? words(annotations[CORS_HEADERS_ANNOTATION]).map((h) => h.toLowerCase()) : CORS_DEFAULT_HEADERS,
            expose: annotations[CORS_EXPOSE_ANNOTATION] !== undefined ? words(annotations[CORS_EXPOSE_ANNOTATION]) : [],
            maxAgeSeconds: annotations[CORS_MAX_AGE_ANNOTATION] !== undefined ? Number(annotations[CORS_MAX_AGE_ANNOTATION]) : CORS_DEFAULT_MAX_AGE,
            credentials: annotations[CORS_CREDENTIALS_ANNOTATION] === 'true',
          },
    egressCidrs: egress === undefined || egress === 'all' ? null : words(egress),
  });
}
