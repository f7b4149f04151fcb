import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import type { SluiceMetrics } from '../../core/metrics.js';
import type { Store } from '../../core/store.js';
import type { Stage } from '../stage.js';
import { BodyLimit } from './body-limit.js';
import { ClientConcurrency } from './client-concurrency.js';
import { Cors } from './cors.js';
import { HeaderLimits } from './header-limits.js';
import { ingressMetrics } from './ingress-metrics.js';
import type { IngressSettings } from './ingress-settings.js';
import { IpAllowlist } from './ip-allowlist.js';
import { RateLimit } from './rate-limit.js';
import { RateLimiter } from './token-buckets.js';

export interface IngressStageDeps {
  clock: Clock;
  logger: Logger;
  metrics: SluiceMetrics;
  /** Shares rate-limit buckets when it can (Redis in cluster mode). */
  store?: Store;
}

/**
 * The ingress stages in their order (docs/security.md, "Ingress and egress"). Before routing: header count,
 * requests in flight per client, the gateway-wide per-client rate limit. After routing (visibility is the route
 * lookup's: gateway.ts): the CIDR allowlist, CORS
 * (a preflight is answered before it could cost a token), the body size, the service's rate limits.
 * A gateway-wide limit that is off adds no stage.
 */
export function ingressStages(s: IngressSettings, d: IngressStageDeps): Stage[] {
  const m = ingressMetrics(d.metrics.registry);
  const limiter = new RateLimiter({ clock: d.clock, logger: d.logger, metrics: m, store: d.store, maxBuckets: s.rateLimitBuckets });
  return [
    new HeaderLimits(s.maxHeaderCount, m),
    ...(s.maxRequestsPerClient > 0 ? [new ClientConcurrency(s.maxRequestsPerClient, s.trustedProxyHops, m)] : []),
    new IpAllowlist(s.trustedProxyHops, m),
    new Cors(m),
    new BodyLimit(s.maxRequestBytes, m),
    new RateLimit(limiter, { clientRateLimit: s.clientRateLimit, clientRateLimitBurst: s.clientRateLimitBurst, trustedHops: s.trustedProxyHops }, m),
  ];
}
