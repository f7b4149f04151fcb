import type { BucketSpec, IngressPolicy } from '../../api/ingress-policy.js';
import type { TokenAnswer } from '../../core/store.js';
import type { Exchange } from '../exchange.js';
import type { Admission, Stage } from '../stage.js';
import { clientKeyOf } from './client-identity.js';
import type { IngressMetrics } from './ingress-metrics.js';
import { retryAfter } from './ingress-settings.js';
import type { RateLimiter } from './token-buckets.js';

/**
 * Token-bucket rate limits; a request over one gets 429 with `Retry-After` (whole seconds until a token) and a
 * message naming the limit, before it is admitted, so it never wakes a revision or counts as demand.
 * - Before routing: the gateway-wide `clientRateLimit` per client (address or API key id: client-identity.ts).
 * - After routing, per service: `sluice.dev/client-rate-limit` per client of the service, then
 *   `sluice.dev/rate-limit` for the whole service (a client over its own limit takes no token of the service's).
 * Buckets are shared through the store in cluster mode (Redis), local otherwise (token-buckets.ts).
 */
export class RateLimit implements Stage {
  readonly name = 'rate-limit';
  private readonly clientSpec: BucketSpec | null;
  private readonly trustedHops: number;
  /** Present only with a gateway-wide per-client limit (a hook no stage has costs nothing). */
  readonly onArrival?: (ex: Exchange) => Admission | Promise<Admission>;

  constructor(
    private readonly limiter: RateLimiter,
    o: { clientRateLimit: number; clientRateLimitBurst: number; trustedHops: number },
    private readonly metrics: IngressMetrics,
  ) {
    this.trustedHops = o.trustedHops;
    this.clientSpec = o.clientRateLimit > 0 ? { rate: o.clientRateLimit, burst: o.clientRateLimitBurst || Math.max(1, Math.ceil(o.clientRateLimit)) } : null;
    if (this.clientSpec) this.onArrival = (ex) => this.perClient(ex, this.clientSpec!);
  }

  private perClient(ex: Exchange, spec: BucketSpec): Admission | Promise<Admission> {
    return this.check(this.limiter.take('c', clientKeyOf(ex, this.trustedHops), spec), spec, 'client_rate_limit', () => `rate limit exceeded for this client: ${spec.rate} requests/s, burst ${spec.burst} (clientRateLimit=${spec.rate}, clientRateLimitBurst=${spec.burst})`);
  }

  onRouted(ex: Exchange): Admission | Promise<Admission> {
    const policy = ex.match?.route.ingress;
    if (!policy || (policy.rateLimit === null && policy.clientRateLimit === null)) return undefined;
    const scope = this.scopes.get(policy) ?? this.scopeOf(policy, ex);
    const svc = scope.name;
    const perService = (): Admission | Promise<Admission> => {
      const spec = policy.rateLimit;
      if (spec === null) return undefined;
      return this.check(this.limiter.take(scope.service, '', spec), spec, 'rate_limit', () => `rate limit exceeded for InferenceService ${svc}: ${spec.rate} requests/s, burst ${spec.burst} (sluice.dev/rate-limit)`);
    };
    const spec = policy.clientRateLimit;
    if (spec === null) return perService();
    const own = this.check(this.limiter.take(scope.client, clientKeyOf(ex, this.trustedHops), spec), spec, 'client_rate_limit', () => `rate limit exceeded for this client of InferenceService ${svc}: ${spec.rate} requests/s, burst ${spec.burst} (sluice.dev/client-rate-limit)`);
    if (own instanceof Promise) return own.then((a) => a ?? perService());
    return own ?? perService();
  }

  /** Bucket scopes of a service's policy, built once per policy (stable strings: hashed once). */
  private readonly scopes = new WeakMap<IngressPolicy, { name: string; service: string; client: string }>();

  private scopeOf(policy: IngressPolicy, ex: Exchange): { name: string; service: string; client: string } {
    const { namespace, service } = ex.match!.route;
    const name = `${namespace}/${service}`;
    const scope = { name, service: `s:${name}`, client: `sc:${name}` };
    this.scopes.set(policy, scope);
    return scope;
  }

  private check(answer: TokenAnswer | Promise<TokenAnswer>, spec: BucketSpec, limit: string, message: () => string): Admission | Promise<Admission> {
    if (answer instanceof Promise) return answer.then((a) => this.check(a, spec, limit, message) as Admission);
    if (answer.allowed) return undefined;
    this.metrics.refused.inc({ limit });
    return { status: 429, message: message(), headers: retryAfter(answer.retryAfterMs) };
  }
}
