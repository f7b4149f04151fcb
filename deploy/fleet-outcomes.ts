/**
 * The controller's view of rollout outcomes in cluster mode: the fleet's sum, read from the Store that every
 * gateway flushes to (gateway/shared-outcomes.ts). Reads are incremental: seconds older than `sealSeconds`
 * no longer change (gateways flush each completed second within about one flush interval), so they are folded
 * into a running sum per revision and window start and never read again; only the last few seconds are read on
 * each evaluation.
 */
import type { Clock } from '../core/clock.js';
import { sketchQuantile } from '../core/latency-sketch.js';
import type { Store } from '../core/store.js';
import type { WindowStats } from '../gateway/outcome-recorder.js';

export interface FleetOutcomesOptions {
  store: Store;
  clock: Clock;
  /** Seconds after which a second's outcomes are taken as final. Default 10. */
  sealSeconds?: number;
  /** Revisions whose running sums are kept (the least recently read is dropped). Default 1024. */
  maxRevisions?: number;
}

interface RunningSum {
  fromSecond: number;
  /** Seconds below this are folded into the sums. */
  sealedTo: number;
  requests: number;
  errors: number;
  bins: Map<number, number>;
}

export class FleetOutcomes {
  private readonly o: FleetOutcomesOptions;
  private readonly sums = new Map<string, RunningSum>();

  constructor(o: FleetOutcomesOptions) {
    this.o = o;
  }

  /**
   * Requests, errors and p99 model latency of a revision over every gateway, from `since` (clock ms; the second
   * it falls in is left out, as it holds requests from before) to now. Rejects when the store does.
   */
  async stats(revisionKey: string, since: number): Promise<WindowStats> {
    const nowSecond = Math.floor(this.o.clock.now() / 1000);
    const fromSecond = Math.ceil(since / 1000);
    let sum = this.sums.get(revisionKey);
    if (sum) this.sums.delete(revisionKey);
    if (!sum || sum.fromSecond !== fromSecond) sum = { fromSecond, sealedTo: fromSecond, requests: 0, errors: 0, bins: new Map() };
    const max = this.o.maxRevisions ?? 1024;
    if (this.sums.size >= max) {
      const oldest = this.sums.keys().next().value;
      if (oldest !== undefined) this.sums.delete(oldest);
    }
    this.sums.set(revisionKey, sum);
    const sealLimit = Math.max(sum.sealedTo, nowSecond - (this.o.sealSeconds ?? 10));
    const fresh = await this.o.store.readOutcomes(revisionKey, sum.sealedTo, nowSecond + 1);
    let requests = sum.requests;
    let errors = sum.errors;
    const recent: Array<[number, number]> = [];
    for (const b of fresh) {
      if (b.second < sealLimit) {
        sum.requests += b.requests;
        sum.errors += b.errors;
        for (const [bin, c] of b.latency) sum.bins.set(bin, (sum.bins.get(bin) ?? 0) + c);
      } else recent.push(...b.latency);
      requests += b.requests;
      errors += b.errors;
    }
    sum.sealedTo = sealLimit;
    if (requests === 0) return { requests: 0, errors: 0, p99Ms: null };
    return { requests, errors, p99Ms: sketchQuantile([...sum.bins, ...recent], 0.99) };
  }

  forget(revisionKey: string): void {
    this.sums.delete(revisionKey);
  }
}
