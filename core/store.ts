/**
 * The fabric between instances: metric buckets, rollout outcomes and pokes. Embedded mode uses MemoryStore; cluster mode a Redis
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

/**
 * One second of one revision's request outcomes as seen by one gateway (or summed over gateways when read), for
 * rollout policies (deploy/rollout-policy.ts): requests, errors among them, and a mergeable sketch of their model
 * latency (core/latency-sketch.ts).
 */
export interface OutcomeBucket {
  /** Whole seconds since the epoch. */
  second: number;
  requests: number;
  /** Requests answered 5xx or not answered at all. */
  errors: number;
  /** Model latency: `[bin, count]` pairs of core/latency-sketch.ts, bins ascending, counts summing to `requests`. */
  latency: Array<[number, number]>;
}

export interface Store {
  /** Adds one instance's completed buckets for a revision. Buckets from several instances are summed. */
  addBuckets(revisionKey: string, instance: string, buckets: readonly MetricBucket[]): Promise<void>;
  /** Buckets of [fromSecond, toSecond), summed over instances, ascending; seconds with no traffic are absent. */
  readBuckets(revisionKey: string, fromSecond: number, toSecond: number): Promise<MetricBucket[]>;
  /** Adds one gateway's outcome buckets for a revision; buckets of one second from several gateways are summed. */
  addOutcomes(revisionKey: string, buckets: readonly OutcomeBucket[]): Promise<void>;
  /** Outcome buckets of [fromSecond, toSecond), summed over gateways, ascending; seconds without requests are absent. */
  readOutcomes(revisionKey: string, fromSecond: number, toSecond: number): Promise<OutcomeBucket[]>;
  /** "A request is waiting for a revision with no ready replica": wakes the autoscaler at once. */
  poke(revisionKey: string): Promise<void>;
  /** Adds a poke listener; returns its removal. Pokes sent once `pokesReady()` has resolved reach it. */
  onPoke(listener: (revisionKey: string) => void): () => void;
  /**
   * Resolves once this instance receives every poke published from then on (for Redis: the subscription is
   * confirmed). Rejects with a clear error when it is not within `timeoutMs` (default 10 s).
   */
  pokesReady(timeoutMs?: number): Promise<void>;
  /** Forgets a revision's data (metric buckets and outcomes). */
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
  private readonly outcomes = new Map<string, Map<number, OutcomeBucket>>();
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

  async addOutcomes(revisionKey: string, buckets: readonly OutcomeBucket[]): Promise<void> {
    if (buckets.length === 0) return;
    const s = recent(this.outcomes, revisionKey, this.maxRevisions);
    let newest = 0;
    for (const b of buckets) {
      const cur = s.get(b.second) ?? { second: b.second, requests: 0, errors: 0, latency: [] };
      s.set(b.second, cur);
      cur.requests += b.requests;
      cur.errors += b.errors;
      cur.latency = mergeBins(cur.latency, b.latency);
      if (b.second > newest) newest = b.second;
    }
    const cutoff = newest - this.retentionSeconds;
    for (const sec of s.keys()) if (sec < cutoff) s.delete(sec);
  }

  async readOutcomes(revisionKey: string, fromSecond: number, toSecond: number): Promise<OutcomeBucket[]> {
    const s = this.outcomes.get(revisionKey);
    if (!s) return [];
    const out: OutcomeBucket[] = [];
    for (const b of s.values())
      if (b.second >= fromSecond && b.second < toSecond && b.requests > 0) out.push({ ...b, latency: b.latency.map(([k, c]) => [k, c] as [number, number]) });
    out.sort((a, b) => a.second - b.second);
    return out;
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
    this.outcomes.delete(revisionKey);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.series.clear();
    this.outcomes.clear();
  }
}

/** The map of `key`, made most recent (Map order doubles as recency); the least recent goes beyond `max` keys. */
function recent<V>(maps: Map<string, Map<number, V>>, key: string, max: number): Map<number, V> {
  let m = maps.get(key);
  if (m) maps.delete(key);
  else {
    m = new Map();
    if (maps.size >= max) {
      const oldest = maps.keys().next().value;
      if (oldest !== undefined) maps.delete(oldest);
    }
  }
  maps.set(key, m);
  return m;
}

/** Two `[bin, count]` lists (each ascending) summed bin by bin, ascending. */
export function mergeBins(a: ReadonlyArray<readonly [number, number]>, b: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const m = new Map<number, number>();
  for (const [k, c] of a) m.set(k, (m.get(k) ?? 0) + c);
  for (const [k, c] of b) m.set(k, (m.get(k) ?? 0) + c);
  return [...m].sort((x, y) => x[0] - y[0]);
}
