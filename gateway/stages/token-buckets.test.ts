import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { SluiceMetrics } from '../../core/metrics.js';
import type { Store } from '../../core/store.js';
import { ingressMetrics } from './ingress-metrics.js';
import { LocalBuckets, RateLimiter } from './token-buckets.js';

describe('token buckets', () => {
  it('admits rate × time + burst: 100/s with a burst of 20, offered 1,000/s over 10 s (both ends included), admits 1,020', () => {
    const clock = new FakeClock();
    const b = new LocalBuckets(clock, 10);
    let admitted = 0;
    for (let ms = 0; ms <= 10_000; ms++) {
      if (b.take('s', 'k', { rate: 100, burst: 20 }).allowed) admitted++;
      clock.advance(1);
    }
    expect(admitted).toBe(1020);
  });

  it('says when the next token comes', () => {
    const clock = new FakeClock();
    const b = new LocalBuckets(clock, 10);
    expect(b.take('s', 'k', { rate: 0.5, burst: 1 })).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(b.take('s', 'k', { rate: 0.5, burst: 1 })).toEqual({ allowed: false, retryAfterMs: 2000 });
    clock.advance(1500);
    expect(b.take('s', 'k', { rate: 0.5, burst: 1 })).toEqual({ allowed: false, retryAfterMs: 500 });
    clock.advance(500);
    expect(b.take('s', 'k', { rate: 0.5, burst: 1 }).allowed).toBe(true);
  });

  it('keeps at most maxBuckets, dropping those unused for longest', () => {
    const clock = new FakeClock();
    const b = new LocalBuckets(clock, 4);
    const spec = { rate: 0.001, burst: 1 };
    for (const k of ['a', 'b', 'c', 'd']) b.take('s', k, spec);
    b.take('s', 'a', spec); // a was used again: it moves to the recent generation
    b.take('s', 'e', spec); // b is among the least recently used: dropped
    b.take('s', 'f', spec);
    expect(b.size).toBeLessThanOrEqual(4);
    expect(b.take('s', 'a', spec).allowed).toBe(false); // remembered: still empty
    expect(b.take('s', 'b', spec).allowed).toBe(true); // forgotten: a full bucket again
    for (let i = 0; i < 1000; i++) b.take('s', `k${i}`, spec);
    expect(b.size).toBeLessThanOrEqual(4);
  });

  it('keeps one bucket per scope for the same client', () => {
    const b = new LocalBuckets(new FakeClock(), 10);
    const spec = { rate: 0.001, burst: 1 };
    expect(b.take('service-a', 'ip:1.2.3.4', spec).allowed).toBe(true);
    expect(b.take('service-b', 'ip:1.2.3.4', spec).allowed).toBe(true);
    expect(b.take('service-a', 'ip:1.2.3.4', spec).allowed).toBe(false);
    expect(b.size).toBe(1);
  });

  it('falls back to local buckets when the shared store fails, counting each fallback', async () => {
    const clock = new FakeClock();
    const metrics = ingressMetrics(new SluiceMetrics().registry);
    let up = true;
    const store = {
      takeToken: (): Promise<{ allowed: boolean; retryAfterMs: number }> => (up ? Promise.resolve({ allowed: false, retryAfterMs: 7000 }) : Promise.reject(new Error('redis down'))),
    } as unknown as Store;
    const limiter = new RateLimiter({ clock, logger: silentLogger(), metrics, store, maxBuckets: 10 });
    expect(await limiter.take('s', 'k', { rate: 1, burst: 1 })).toEqual({ allowed: false, retryAfterMs: 7000 });
    up = false;
    expect(await limiter.take('s', 'k', { rate: 1, burst: 1 })).toEqual({ allowed: true, retryAfterMs: 0 });
    expect((await limiter.take('s', 'k', { rate: 1, burst: 1 })).allowed).toBe(false);
    expect((await metrics.rateLimitFallbacks.get()).values[0]!.value).toBe(2);
  });
});
