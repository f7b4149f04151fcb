import type { BucketSpec } from '../../api/ingress-policy.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import type { Store, TokenAnswer } from '../../core/store.js';
import type { IngressMetrics } from './ingress-metrics.js';

interface Bucket {
  tokens: number;
  /** clock.monotonic() of the last take. */
  at: number;
}

const ALLOWED: TokenAnswer = Object.freeze({ allowed: true, retryAfterMs: 0 });

/**
 * Token buckets kept in this process, by client and scope (the gateway-wide client scope, or a service's), at most
 * `maxBuckets` clients, the least recently used dropped first (a dropped client starts again with full buckets,
 * so the bound can only make a limit looser, never refuse someone wrongly).
 *
 * Cost per take, measured: keys are not concatenated per request (a fresh string is hashed on every lookup); the
 * client's string is the one cached per connection (client-identity.ts) and scopes are built once per policy, so
 * V8 hashes each once. Recency is kept in two generations rather than by re-inserting on every take: clients seen
 * since the last turnover are in `current`; one found only in `previous` moves to `current`; when `current` holds
 * half the bound it becomes `previous`, and the old `previous` (clients unseen for a whole generation) is dropped.
 */
export class LocalBuckets {
  private current = new Map<string, Map<string, Bucket>>();
  private previous = new Map<string, Map<string, Bucket>>();
  private readonly generation: number;

  constructor(
    private readonly clock: Clock,
    readonly maxBuckets: number,
  ) {
    this.generation = Math.max(1, Math.floor(maxBuckets / 2));
  }

  /** Clients remembered. */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  take(scope: string, client: string, spec: BucketSpec): TokenAnswer {
    const now = this.clock.monotonic();
    let scopes = this.current.get(client);
    if (scopes === undefined) {
      scopes = this.previous.get(client);
      if (scopes !== undefined) this.previous.delete(client);
      else scopes = new Map();
      if (this.current.size >= this.generation) {
        this.previous = this.current;
        this.current = new Map();
      }
      this.current.set(client, scopes);
    }
    let b = scopes.get(scope);
    if (b === undefined) {
      b = { tokens: spec.burst, at: now };
      scopes.set(scope, b);
    } else if (now > b.at) {
      b.tokens = Math.min(spec.burst, b.tokens + ((now - b.at) * spec.rate) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return ALLOWED;
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - b.tokens) * 1000) / spec.rate) };
  }
}

/** Seconds between two warnings about the shared store (each fallback is counted regardless). */
const WARN_EVERY_MS = 10_000;

/**
 * Rate limits for the gateway: buckets shared through the store when it can share them (Redis in cluster mode),
 * else local ones. When the shared store fails, the decision is taken with the local bucket of the same key (so
 * a limit still holds, per gateway), a warning is logged at most every 10 s, and
 * sluice_gateway_rate_limit_fallbacks_total counts it.
 */
export class RateLimiter {
  readonly local: LocalBuckets;
  private lastWarnAt = -Infinity;

  constructor(
    private readonly d: { clock: Clock; logger: Logger; metrics: IngressMetrics; store?: Store; maxBuckets: number },
  ) {
    this.local = new LocalBuckets(d.clock, d.maxBuckets);
  }

  /** True when takes may be asynchronous (a shared store). */
  get shared(): boolean {
    return this.d.store?.takeToken !== undefined;
  }

  /** `client` is '' for a bucket of the whole scope (a service's own limit). */
  take(scope: string, client: string, spec: BucketSpec): TokenAnswer | Promise<TokenAnswer> {
    const store = this.d.store;
    if (store?.takeToken === undefined) return this.local.take(scope, client, spec);
    return store.takeToken(client === '' ? scope : `${scope}:${client}`, spec.rate, spec.burst).catch((err: unknown) => {
      this.d.metrics.rateLimitFallbacks.inc();
      const now = this.d.clock.now();
      if (now - this.lastWarnAt >= WARN_EVERY_MS) {
        this.lastWarnAt = now;
        this.d.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'rate limits use local buckets: the shared store failed');
      }
      return this.local.take(scope, client, spec);
    });
  }
}
