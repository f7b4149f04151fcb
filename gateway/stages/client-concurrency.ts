import { AttributeKey, type Exchange } from '../exchange.js';
import type { Admission, Stage } from '../stage.js';
import { clientKeyOf } from './client-identity.js';
import type { IngressMetrics } from './ingress-metrics.js';

const COUNTED = new AttributeKey<string>('clientConcurrencyKey');

/**
 * At most `maxRequestsPerClient` requests in flight from one client (its address, or its API key id: see
 * client-identity.ts); more get 429 before routing. The map holds only clients with a request in flight, so it
 * is bounded by the requests in the gateway.
 */
export class ClientConcurrency implements Stage {
  readonly name = 'client-concurrency';
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly trustedHops: number,
    private readonly metrics: IngressMetrics,
  ) {}

  /** Clients with a request in flight (tests). */
  get clients(): number {
    return this.inFlight.size;
  }

  onArrival(ex: Exchange): Admission {
    const key = clientKeyOf(ex, this.trustedHops);
    const n = this.inFlight.get(key) ?? 0;
    if (n >= this.max) {
      this.metrics.refused.inc({ limit: 'max_requests_per_client' });
      return { status: 429, message: `too many requests in flight from this client: ${n} (limit maxRequestsPerClient=${this.max})`, headers: { 'retry-after': '1' } };
    }
    this.inFlight.set(key, n + 1);
    ex.set(COUNTED, key);
    return undefined;
  }

  onDone(ex: Exchange): void {
    const key = ex.get(COUNTED);
    if (key === undefined) return;
    const left = (this.inFlight.get(key) ?? 1) - 1;
    if (left <= 0) this.inFlight.delete(key);
    else this.inFlight.set(key, left);
  }
}
