import type { CorsPolicy } from '../../api/ingress-policy.js';
import { AttributeKey, type Exchange } from '../exchange.js';
import type { PassedHead } from '../forward-headers.js';
import type { Admission, HeaderBag, Stage } from '../stage.js';
import type { IngressMetrics } from './ingress-metrics.js';

/** The allowed origin of a request with `Origin`, for its response headers. */
const ALLOWED_ORIGIN = new AttributeKey<{ policy: CorsPolicy; origin: string }>('corsOrigin');

/**
 * CORS per service (`sluice.dev/cors-*` annotations). A preflight (`OPTIONS` with `Origin` and
 * `Access-Control-Request-Method`) for a service with a policy is answered here, 204 or 403 naming the
 * annotation that refused it, and never reaches a replica or wakes one. An actual request from an allowed origin
 * gets `Access-Control-Allow-Origin` (and the exposed headers, credentials) on its response; every response of a
 * service with a policy varies on `Origin`. A service without a policy is left alone (its runtime decides).
 */
export class Cors implements Stage {
  readonly name = 'cors';

  constructor(private readonly metrics: IngressMetrics) {}

  onRouted(ex: Exchange): Admission {
    const policy = ex.match?.route.ingress?.cors;
    if (!policy) return undefined;
    const origin = ex.req.headers.origin;
    const wanted = ex.req.headers['access-control-request-method'];
    const preflight = ex.req.method === 'OPTIONS' && origin !== undefined && typeof wanted === 'string';
    if (origin === undefined) return undefined;
    const originAllowed = policy.origins[0] === '*' || policy.origins.includes(origin);
    if (!preflight) {
      if (originAllowed) ex.set(ALLOWED_ORIGIN, { policy, origin });
      return undefined;
    }
    const refuse = (message: string): Admission => {
      this.metrics.refused.inc({ limit: 'cors' });
      return { status: 403, message, headers: { vary: 'Origin' } };
    };
    if (!originAllowed) return refuse(`origin ${origin} is not allowed (sluice.dev/cors-allow-origins)`);
    if (!policy.methods.includes(wanted.toUpperCase())) return refuse(`method ${wanted} is not allowed (sluice.dev/cors-allow-methods: ${policy.methods.join(', ')})`);
    const requested = (ex.req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    if (!policy.headers.includes('*')) {
      const denied = requested.find((h) => !policy.headers.includes(h));
      if (denied !== undefined) return refuse(`request header ${denied} is not allowed (sluice.dev/cors-allow-headers: ${policy.headers.join(', ') || 'none'})`);
    }
    const headers: Record<string, string> = {
      'access-control-allow-origin': allowOrigin(policy, origin),
      'access-control-allow-methods': policy.methods.join(', '),
      'access-control-max-age': String(policy.maxAgeSeconds),
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    };
    if (requested.length > 0) headers['access-control-allow-headers'] = requested.join(', ');
    if (policy.credentials) headers['access-control-allow-credentials'] = 'true';
    return { status: 204, message: '', headers, empty: true };
  }

  /** Only a request from an allowed origin needs the head as an object; the others only vary (onResponseHead). */
  wantsResponseStart(ex: Exchange): boolean {
    return ex.get(ALLOWED_ORIGIN) !== undefined;
  }

  /** The replica's head going on as it came: `Vary: Origin` for a service with a policy, unless it already varies so. */
  onResponseHead(ex: Exchange, head: PassedHead): void {
    if (!ex.match?.route.ingress?.cors) return;
    const vary = head.get('vary');
    if (vary !== undefined && VARIES_ON_ORIGIN.test(vary)) return;
    // A second Vary field line is the same as one more item in the first (RFC 9110 §5.3).
    head.add('vary', 'Origin');
  }

  onResponseStart(ex: Exchange, _status: number, headers: HeaderBag): void {
    const policy = ex.match?.route.ingress?.cors;
    if (!policy) return;
    headers['vary'] = appendVary(headers['vary']);
    const allowed = ex.get(ALLOWED_ORIGIN);
    if (!allowed) return;
    headers['access-control-allow-origin'] = allowOrigin(allowed.policy, allowed.origin);
    if (allowed.policy.credentials) headers['access-control-allow-credentials'] = 'true';
    if (allowed.policy.expose.length > 0) headers['access-control-expose-headers'] = allowed.policy.expose.join(', ');
  }
}

function allowOrigin(policy: CorsPolicy, origin: string): string {
  // With credentials the origin must be named (a "*" policy with credentials is refused at validation).
  return policy.origins[0] === '*' ? '*' : origin;
}

/** A Vary value that lists Origin (or `*`, every field) already. */
const VARIES_ON_ORIGIN = /(^|,)\s*(origin|\*)\s*(,|$)/i;

function appendVary(v: string | string[] | undefined): string {
  const text = Array.isArray(v) ? v.join(', ') : (v ?? '');
  if (VARIES_ON_ORIGIN.test(text)) return text;
  return text === '' ? 'Origin' : `${text}, Origin`;
}
