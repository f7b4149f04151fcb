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
 * Token buckets kept in this process, at most `maxBuckets` of them: the least recently used is dropped first
 * (a dropped client starts again with a full bucket, so the bound can only make a limit looser, never refuse
 * someone wrongly). A take is a map lookup, some arithmetic and a re-insert (the map's order is its recency).
 */
export class LocalBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly clock: Clock,
    readonly maxBuckets: number,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, spec: BucketSpec): TokenAnswer {
    const now = this.clock.monotonic();
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { tokens: spec.burst, at: now };
      if (this.buckets.size >= this.maxBuckets) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    } else {
      this.buckets.delete(key);
      if (now > b.at) b.tokens = Math.min(spec.burst, b.tokens + ((now - b.at) * spec.rate) / 1000);
      b.at = Math.max(b.at, now);
    }
    this.buckets.set(key, b);
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

  take(key: string, spec: BucketSpec): TokenAnswer | Promise<TokenAnswer> {
    const store = this.d.store;
    if (store?.takeToken === undefined) return this.local.take(key, spec);
    return store.takeToken(key, spec.rate, spec.burst).catch((err: unknown) => {
      this.d.metrics.rateLimitFallbacks.inc();
      const now = this.d.clock.now();
      if (now - this.lastWarnAt >= WARN_EVERY_MS) {
        this.lastWarnAt = now;
        this.d.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'rate limits use local buckets: the shared store failed');
      }
      return this.local.take(key, spec);
    });
  }
}
