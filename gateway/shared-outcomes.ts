/**
 * Rollout outcomes shared by a fleet of gateways (cluster mode): each gateway sums its requests per revision and
 * second — count, errors, a latency sketch (core/latency-sketch.ts) — and pushes the completed seconds to the
 * Store once per flush interval (1 s), never per request. The controller reads the fleet's sum back
 * (deploy/fleet-outcomes.ts). Embedded mode keeps OutcomeRecorder, in the same process as its controller.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { LATENCY_SKETCH_BINS, latencyBin } from '../core/latency-sketch.js';
import type { OutcomeBucket, Store } from '../core/store.js';

/** Where the accounting stage reports each request's outcome (OutcomeRecorder, or OutcomeFlusher). */
export interface OutcomeSink {
  /** One finished request: when (clock ms), the status sent (0: none), its total and cold-start wait in ms. */
  record(revisionKey: string, at: number, status: number, totalMs: number, coldStartMs: number): void;
}

export interface OutcomeFlusherOptions {
  clock: Clock;
  store: Store;
  /** How often completed seconds are pushed (ms). Default 1000. */
  flushIntervalMs?: number;
  /** Revisions summed at once; a new one beyond it is not counted until a flush frees room. Default 1024. */
  maxRevisions?: number;
  /** Completed seconds kept per revision while the store is unreachable (the oldest drop). Default 300. */
  maxPendingSeconds?: number;
  /** Told, at most once per flush, how many outcomes were dropped and why (store unreachable too long, too many revisions). */
  onDropped?: (count: number, why: string) => void;
}

interface Accumulator {
  second: number;
  requests: number;
  errors: number;
  bins: Uint32Array;
  /** Completed seconds not yet in the store, oldest first. */
  pending: OutcomeBucket[];
}

/** Sums outcomes per revision and second in memory and flushes completed seconds to the Store. Bounded. */
export class OutcomeFlusher implements OutcomeSink {
  private readonly o: OutcomeFlusherOptions;
  private readonly series = new Map<string, Accumulator>();
  private readonly maxRevisions: number;
  private readonly maxPending: number;
  private timer: TimerHandle | null = null;
  private flushing: Promise<void> | null = null;
  /** Outcomes dropped since the last report, and the last reason. */
  private dropped = 0;
  private dropReason = '';

  constructor(o: OutcomeFlusherOptions) {
    this.o = o;
    this.maxRevisions = o.maxRevisions ?? 1024;
    this.maxPending = o.maxPendingSeconds ?? 300;
    const every = o.flushIntervalMs ?? 1000;
    if (every > 0) this.timer = o.clock.setInterval(() => void this.flush(), every);
  }

  record(revisionKey: string, at: number, status: number, totalMs: number, coldStartMs: number): void {
    // A client that went away (499) says nothing about the revision.
    if (status === 499) return;
    let a = this.series.get(revisionKey);
    if (!a) {
      if (this.series.size >= this.maxRevisions) {
        this.drop(1, `more than ${this.maxRevisions} revisions with outcomes in one flush interval (maxRevisions)`);
        return;
      }
      a = { second: Math.floor(at / 1000), requests: 0, errors: 0, bins: new Uint32Array(LATENCY_SKETCH_BINS), pending: [] };
      this.series.set(revisionKey, a);
    }
    const second = Math.floor(at / 1000);
    if (second !== a.second) {
      this.seal(a);
      a.second = second;
    }
    a.requests++;
    if (status >= 500 || status === 0) a.errors++;
    a.bins[latencyBin(totalMs - coldStartMs)]!++;
  }

  /** Pushes every completed second to the store; on failure keeps them (bounded) for the next flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.dropped > 0) {
      this.o.onDropped?.(this.dropped, this.dropReason);
      this.dropped = 0;
    }
    const nowSecond = Math.floor(this.o.clock.now() / 1000);
    const batches: Array<[string, OutcomeBucket[]]> = [];
    for (const [key, a] of this.series) {
      if (a.second < nowSecond) this.seal(a);
      if (a.pending.length > 0) {
        batches.push([key, a.pending]);
        a.pending = [];
      }
      if (a.requests === 0) this.series.delete(key);
    }
    if (batches.length === 0) return Promise.resolve();
    this.flushing = Promise.all(batches.map(([key, b]) => this.o.store.addOutcomes(key, b)))
      .then(() => undefined)
      .catch(() => {
        for (const [key, b] of batches) {
          let a = this.series.get(key);
          if (!a) {
            a = { second: nowSecond, requests: 0, errors: 0, bins: new Uint32Array(LATENCY_SKETCH_BINS), pending: [] };
            this.series.set(key, a);
          }
          const kept = [...b, ...a.pending];
          const over = kept.length - this.maxPending;
          if (over > 0) this.drop(over, `the store was unreachable for more than ${this.maxPending} s (maxPendingSeconds)`);
          a.pending = over > 0 ? kept.slice(over) : kept;
        }
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  private drop(n: number, why: string): void {
    this.dropped += n;
    this.dropReason = why;
  }

  /** Stops the flush timer (call flush() once more to push the rest). */
  stop(): void {
    if (this.timer) this.o.clock.clearInterval(this.timer);
    this.timer = null;
  }

  /** Moves the second being summed to `pending` as a sparse bucket, and starts an empty one. */
  private seal(a: Accumulator): void {
    if (a.requests === 0) return;
    const latency: Array<[number, number]> = [];
    for (let i = 0; i < a.bins.length; i++) if (a.bins[i]! > 0) latency.push([i, a.bins[i]!]);
    a.pending.push({ second: a.second, requests: a.requests, errors: a.errors, latency });
    if (a.pending.length > this.maxPending) {
      a.pending.shift();
      this.drop(1, `the store was unreachable for more than ${this.maxPending} s (maxPendingSeconds)`);
    }
    a.requests = 0;
    a.errors = 0;
    a.bins.fill(0);
  }
}
