import { AttributeKey, type Exchange } from '../exchange.js';
import type { Admission, Stage } from '../stage.js';
import { clientKeyOf } from './client-identity.js';
import type { IngressMetrics } from './ingress-metrics.js';

const COUNTED = new AttributeKey<{ n: number }>('clientConcurrency');

/** Clients remembered with nothing in flight before they are swept out of the map (all at once). */
const SWEEP_AT = 10_000;

/**
 * At most `maxRequestsPerClient` requests in flight from one client (its address, or its API key id: see
 * client-identity.ts); more get 429 before routing. A client's counter stays in the map when it drops to zero (a
 * delete and re-insert per request was most of this stage's cost); once SWEEP_AT clients are remembered, those
 * with nothing in flight are removed, so the map holds at most about twice the clients with requests in flight, or SWEEP_AT.
 */
export class ClientConcurrency implements Stage {
  readonly name = 'client-concurrency';
  private readonly inFlight = new Map<string, { n: number }>();
  /** Size at which the next sweep runs: twice what a sweep left, at least SWEEP_AT (amortised O(1) per request). */
  private sweepAt = SWEEP_AT;

  constructor(
    private readonly max: number,
    private readonly trustedHops: number,
    private readonly metrics: IngressMetrics,
  ) {}

  /** Clients remembered (tests). */
  get clients(): number {
    return this.inFlight.size;
  }

  onArrival(ex: Exchange): Admission {
    const key = clientKeyOf(ex, this.trustedHops);
    let c = this.inFlight.get(key);
    if (c === undefined) {
      if (this.inFlight.size >= this.sweepAt) this.sweep();
      c = { n: 0 };
      this.inFlight.set(key, c);
    }
    if (c.n >= this.max) {
      this.metrics.refused.inc({ limit: 'max_requests_per_client' });
      return { status: 429, message: `too many requests in flight from this client: ${c.n} (limit maxRequestsPerClient=${this.max})`, headers: { 'retry-after': '1' } };
    }
    c.n++;
    ex.set(COUNTED, c);
    return undefined;
  }

  onDone(ex: Exchange): void {
    const c = ex.get(COUNTED);
    if (c !== undefined) c.n--;
  }

  private sweep(): void {
    for (const [key, c] of this.inFlight) if (c.n <= 0) this.inFlight.delete(key);
    this.sweepAt = Math.max(SWEEP_AT, 2 * this.inFlight.size);
  }
}
