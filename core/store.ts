/**
 * The fabric between instances: metric buckets and pokes. Embedded mode uses MemoryStore; cluster mode a Redis
 * store. Nothing above this interface knows which one runs.
 */

/** One second of one revision's traffic as seen by one instance (or summed over instances when read). */
export interface MetricBucket {
  /** Whole seconds since the epoch (clock time / 1000, floored). */
  second: number;
  /** Time-weighted average number of in-flight requests during that second. */
  concurrency: number;
  /** Requests that arrived during that second. */
  requests: number;
}

export interface Store {
  /** Adds one instance's completed buckets for a revision. Buckets from several instances are summed. */
  addBuckets(revisionKey: string, instance: string, buckets: readonly MetricBucket[]): Promise<void>;
  /** Buckets of [fromSecond, toSecond), summed over instances, ascending; seconds with no traffic are absent. */
  readBuckets(revisionKey: string, fromSecond: number, toSecond: number): Promise<MetricBucket[]>;
  /** "A request is waiting for a revision with no ready replica": wakes the autoscaler at once. */
  poke(revisionKey: string): Promise<void>;
  /** Adds a poke listener; returns its removal. Pokes sent once `pokesReady()` has resolved reach it. */
  onPoke(listener: (revisionKey: string) => void): () => void;
  /**
   * Resolves once this instance receives every poke published from then on (for Redis: the subscription is
   * confirmed). Rejects with a clear error when it is not within `timeoutMs` (default 10 s).
   */
  pokesReady(timeoutMs?: number): Promise<void>;
  /** Forgets a revision's data. */
  forget(revisionKey: string): Promise<void>;
  close(): Promise<void>;
  /**
   * Takes one token from the shared token bucket `key` (created full: `burst` tokens, refilled at `rate` per
   * second), for rate limits shared by every gateway. Absent in stores that are not shared (memory): the gateway
   * then keeps its buckets itself. Rejects at once when the shared store is unreachable.
   */
  takeToken?(key: string, rate: number, burst: number): Promise<TokenAnswer>;
}

/** A token bucket's answer: allowed, or not and when the next token comes. */
export interface TokenAnswer {
  allowed: boolean;
  /** Milliseconds until a token is available (0 when allowed). */
  retryAfterMs: number;
}

export interface MemoryStoreOptions {
  /** Seconds of history kept per revision (must cover the longest stable window). */
  retentionSeconds?: number;
  /** Most revisions tracked; the least recently written is dropped beyond it. */
  maxRevisions?: number;
}

/** In-process store for embedded mode. Bounded by retention and revision count. */
export class MemoryStore implements Store {
  private readonly series = new Map<string, Map<number, MetricBucket>>();
  private readonly listeners = new Set<(revisionKey: string) => void>();
  private readonly retentionSeconds: number;
  private readonly maxRevisions: number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.retentionSeconds = opts.retentionSeconds ?? 3600;
    this.maxRevisions = opts.maxRevisions ?? 100_000;
  }

  async addBuckets(revisionKey: string, _instance: string, buckets: readonly MetricBucket[]): Promise<void> {
    if (buckets.length === 0) return;
    let s = this.series.get(revisionKey);
    if (s) {
      this.series.delete(revisionKey); // re-insert: Map order doubles as recency
    } else {
      s = new Map();
      if (this.series.size >= this.maxRevisions) {
        const oldest = this.series.keys().next().value;
        if (oldest !== undefined) this.series.delete(oldest);
      }
    }
    this.series.set(revisionKey, s);
    let newest = 0;
    for (const b of buckets) {
      const cur = s.get(b.second);
      if (cur) {
        cur.concurrency += b.concurrency;
        cur.requests += b.requests;
      } else {
        s.set(b.second, { second: b.second, concurrency: b.concurrency, requests: b.requests });
      }
      if (b.second > newest) newest = b.second;
    }
    const cutoff = newest - this.retentionSeconds;
    for (const sec of s.keys()) if (sec < cutoff) s.delete(sec);
  }

  async readBuckets(revisionKey: string, fromSecond: number, toSecond: number): Promise<MetricBucket[]> {
    const s = this.series.get(revisionKey);
    if (!s) return [];
    const out: MetricBucket[] = [];
    for (const b of s.values()) if (b.second >= fromSecond && b.second < toSecond) out.push({ ...b });
    out.sort((a, b) => a.second - b.second);
    return out;
  }

  async poke(revisionKey: string): Promise<void> {
    for (const l of this.listeners) l(revisionKey);
  }

  onPoke(listener: (revisionKey: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async pokesReady(_timeoutMs?: number): Promise<void> {}

  async forget(revisionKey: string): Promise<void> {
    this.series.delete(revisionKey);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.series.clear();
  }
}
