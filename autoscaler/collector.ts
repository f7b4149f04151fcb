import type { Clock, TimerHandle } from '../core/clock.js';
import type { MetricBucket, Store } from '../core/store.js';

interface SeriesState {
  inflight: number;
  /** Time (ms) up to which in-flight has been integrated. */
  integratedTo: number;
  /** Second being filled. */
  second: number;
  /** In-flight × milliseconds accumulated in `second`. */
  area: number;
  requests: number;
  /** Completed seconds not yet pushed to the store. */
  pending: MetricBucket[];
}

export interface CollectorOptions {
  clock: Clock;
  store: Store;
  /** Name of this instance (gateway/activator) in the store. */
  instance: string;
  /** How often completed buckets are pushed (ms). */
  flushIntervalMs?: number;
  /** Most completed buckets kept per revision while the store is unreachable. */
  maxPendingPerRevision?: number;
  /** Called when a revision goes from no request in flight to one (a worker tells its primary at once). */
  onBusy?: (revisionKey: string) => void;
}

/**
 * Counts every request once, per revision: in-flight integrated over time into 1-second buckets of
 * time-weighted average concurrency, plus arrivals. Buckets are pushed to the Store for the autoscaler.
 */
export class Collector {
  private readonly clock: Clock;
  private readonly store: Store;
  private readonly instance: string;
  private readonly maxPending: number;
  private readonly onBusy: ((revisionKey: string) => void) | undefined;
  private readonly series = new Map<string, SeriesState>();
  private timer: TimerHandle | null = null;
  private flushing: Promise<void> | null = null;

  constructor(opts: CollectorOptions) {
    this.clock = opts.clock;
    this.store = opts.store;
    this.instance = opts.instance;
    this.maxPending = opts.maxPendingPerRevision ?? 600;
    this.onBusy = opts.onBusy;
    const every = opts.flushIntervalMs ?? 1000;
    if (every > 0) this.timer = this.clock.setInterval(() => void this.flush(), every);
  }

  /** A request for the revision has arrived (at `now`, the clock's time, when the caller has just read it). */
  begin(revisionKey: string, now = this.clock.now()): void {
    const s = this.state(revisionKey);
    this.advance(s, now);
    if (s.inflight++ === 0) this.onBusy?.(revisionKey);
    s.requests++;
  }

  /** A request for the revision has finished (answered, failed or abandoned); `now` as for `begin`. */
  end(revisionKey: string, now = this.clock.now()): void {
    const s = this.series.get(revisionKey);
    if (!s) return;
    this.advance(s, now);
    if (s.inflight > 0) s.inflight--;
  }

  inflight(revisionKey: string): number {
    return this.series.get(revisionKey)?.inflight ?? 0;
  }

  /** Closes every completed second and pushes the buckets to the store. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const now = this.clock.now();
    const batches: Array<[string, MetricBucket[]]> = [];
    for (const [key, s] of this.series) {
      this.advance(s, now);
      if (s.pending.length > 0) {
        batches.push([key, s.pending]);
        s.pending = [];
      }
      if (s.inflight === 0 && s.area === 0 && s.requests === 0 && s.pending.length === 0) this.series.delete(key);
    }
    if (batches.length === 0) return Promise.resolve();
    this.flushing = Promise.all(batches.map(([key, b]) => this.store.addBuckets(key, this.instance, b)))
      .then(() => undefined)
      .catch(() => {
        // The store is unreachable: keep the buckets (bounded) for the next flush.
        for (const [key, b] of batches) {
          const s = this.state(key);
          s.pending = [...b, ...s.pending].slice(-this.maxPending);
        }
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  close(): void {
    if (this.timer) this.clock.clearInterval(this.timer);
    this.timer = null;
  }

  private state(revisionKey: string): SeriesState {
    let s = this.series.get(revisionKey);
    if (!s) {
      const now = this.clock.now();
      s = { inflight: 0, integratedTo: now, second: Math.floor(now / 1000), area: 0, requests: 0, pending: [] };
      this.series.set(revisionKey, s);
    }
    return s;
  }

  /** Integrates in-flight up to `now`, closing whole seconds on the way. */
  private advance(s: SeriesState, now: number): void {
    if (now <= s.integratedTo) return;
    const nowSecond = Math.floor(now / 1000);
    while (s.second < nowSecond) {
      const secondEnd = (s.second + 1) * 1000;
      s.area += s.inflight * (secondEnd - s.integratedTo);
      s.integratedTo = secondEnd;
      if (s.area > 0 || s.requests > 0) {
        s.pending.push({ second: s.second, concurrency: s.area / 1000, requests: s.requests });
        if (s.pending.length > this.maxPending) s.pending.shift();
      }
      s.area = 0;
      s.requests = 0;
      if (s.inflight === 0) {
        // Nothing more to integrate: jump straight to the current second.
        s.second = nowSecond;
        s.integratedTo = Math.max(s.integratedTo, nowSecond * 1000);
        break;
      }
      s.second++;
    }
    s.area += s.inflight * (now - s.integratedTo);
    s.integratedTo = now;
  }
}
