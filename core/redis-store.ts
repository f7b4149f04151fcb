import { Redis } from 'ioredis';
import type { MetricBucket, OutcomeBucket, Store, TokenAnswer } from './store.js';
import { TOKEN_BUCKET_LUA } from './redis-token-bucket.js';

export interface RedisStoreOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Key prefix, so several Sluice installations can share one Redis. */
  prefix?: string;
  /** Seconds a bucket lives (must cover the longest stable window). */
  retentionSeconds?: number;
  /**
   * Connection errors (Redis down, refused, reset). Operations fail on their own with a clear error; this is
   * for logging. Default: ignored (ioredis would otherwise print each one as an unhandled error event).
   */
  onConnectionError?: (err: Error) => void;
}

/** How long `pokesReady()` waits for the poke subscription by default. */
const POKES_READY_TIMEOUT_MS = 10_000;

/**
 * The Store for cluster mode: every gateway and activator adds its 1-second buckets into one hash per
 * revision and second (HINCRBYFLOAT sums across instances), rollout outcomes likewise (HINCRBY), and pokes
 * travel over pub/sub. Every bucket key expires after `retentionSeconds`.
 *
 * Redis down: each operation is retried over two reconnect attempts and then rejects with an error naming the
 * store's address and the operation (well under 10 s; nothing waits forever). When Redis returns, both
 * connections reconnect by themselves and the poke subscription is made again.
 */
export class RedisStore implements Store {
  private readonly redis: Redis;
  private readonly sub: Redis;
  /** Settles when the poke subscription is confirmed; replaced by a pending one when the connection drops. */
  private subscribed!: Promise<void>;
  private markSubscribed!: () => void;
  private isSubscribed = false;
  private readonly address: string;
  private readonly prefix: string;
  private readonly retention: number;
  private readonly listeners = new Set<(revisionKey: string) => void>();

  constructor(opts: RedisStoreOptions) {
    this.address = redisAddress(opts.url);
    this.redis = new Redis(opts.url, { lazyConnect: false, maxRetriesPerRequest: 2, enableAutoPipelining: true });
    this.prefix = opts.prefix ?? 'sluice';
    this.retention = opts.retentionSeconds ?? 3600;
    const onError = (err: Error): void => opts.onConnectionError?.(err);
    this.redis.on('error', onError);
    this.redis.defineCommand('sluiceTakeToken', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
    // Subscribed at connect, not at the first onPoke(): a listener added later is live at once, and a poke
    // published between onPoke() and an in-flight SUBSCRIBE can no longer be lost. The subscription is made
    // again on every (re)connect by us, not by ioredis, so pokesReady() knows when it is live.
    this.sub = this.redis.duplicate({ autoResubscribe: false });
    this.sub.on('error', onError);
    this.pending();
    this.sub.on('message', (_channel: string, message: string) => {
      for (const l of this.listeners) l(message);
    });
    this.sub.on('ready', () => {
      this.sub.subscribe(this.pokeChannel).then(
        () => {
          this.isSubscribed = true;
          this.markSubscribed();
        },
        (err: unknown) => onError(err instanceof Error ? err : new Error(String(err))),
      );
    });
    this.sub.on('close', () => {
      if (this.isSubscribed) this.pending();
    });
  }

  private pending(): void {
    this.isSubscribed = false;
    this.subscribed = new Promise<void>((resolve) => (this.markSubscribed = resolve));
  }

  /** Runs one Redis operation; a failure names the store's address and the operation. */
  private async op<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new Error(`redis store at ${this.address}: ${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  private key(revisionKey: string, second: number): string {
    return `${this.prefix}:b:${revisionKey}:${second}`;
  }

  private outcomeKey(revisionKey: string, second: number): string {
    return `${this.prefix}:o:${revisionKey}:${second}`;
  }

  private get pokeChannel(): string {
    return `${this.prefix}:poke`;
  }

  async addBuckets(revisionKey: string, _instance: string, buckets: readonly MetricBucket[]): Promise<void> {
    if (buckets.length === 0) return;
    const m = this.redis.multi();
    for (const b of buckets) {
      const k = this.key(revisionKey, b.second);
      if (b.concurrency !== 0) m.hincrbyfloat(k, 'c', b.concurrency);
      if (b.requests !== 0) m.hincrby(k, 'r', b.requests);
      m.expire(k, this.retention);
    }
    await this.op('addBuckets', () => m.exec());
  }

  /** One hash per revision and second: `r` requests, `e` errors, `l<bin>` latency counts; HINCRBY sums gateways. */
  async addOutcomes(revisionKey: string, buckets: readonly OutcomeBucket[]): Promise<void> {
    if (buckets.length === 0) return;
    const m = this.redis.multi();
    for (const b of buckets) {
      const k = this.outcomeKey(revisionKey, b.second);
      m.hincrby(k, 'r', b.requests);
      if (b.errors !== 0) m.hincrby(k, 'e', b.errors);
      for (const [bin, count] of b.latency) m.hincrby(k, `l${bin}`, count);
      m.expire(k, this.retention);
    }
    await this.op('addOutcomes', () => m.exec());
  }

  async readOutcomes(revisionKey: string, fromSecond: number, toSecond: number): Promise<OutcomeBucket[]> {
    const span = Math.max(0, Math.min(toSecond - fromSecond, this.retention));
    if (span === 0) return [];
    const p = this.redis.pipeline();
    for (let s = toSecond - span; s < toSecond; s++) p.hgetall(this.outcomeKey(revisionKey, s));
    const res = (await this.op('readOutcomes', () => p.exec())) ?? [];
    const out: OutcomeBucket[] = [];
    res.forEach(([err, v], i) => {
      if (err) throw new Error(`redis store at ${this.address}: readOutcomes failed: ${err.message}`, { cause: err });
      const h = v as Record<string, string>;
      const requests = Number(h.r ?? 0);
      if (!(requests > 0)) return;
      const latency: Array<[number, number]> = [];
      for (const [f, c] of Object.entries(h)) if (f.startsWith('l')) latency.push([Number(f.slice(1)), Number(c)]);
      latency.sort((a, b) => a[0] - b[0]);
      out.push({ second: toSecond - span + i, requests, errors: Number(h.e ?? 0), latency });
    });
    return out;
  }

  async readBuckets(revisionKey: string, fromSecond: number, toSecond: number): Promise<MetricBucket[]> {
    const span = Math.max(0, Math.min(toSecond - fromSecond, this.retention));
    if (span === 0) return [];
    const p = this.redis.pipeline();
    for (let s = toSecond - span; s < toSecond; s++) p.hmget(this.key(revisionKey, s), 'c', 'r');
    const res = (await this.op('readBuckets', () => p.exec())) ?? [];
    const out: MetricBucket[] = [];
    res.forEach(([err, v], i) => {
      if (err) throw new Error(`redis store at ${this.address}: readBuckets failed: ${err.message}`, { cause: err });
      const [c, r] = v as [string | null, string | null];
      if (c === null && r === null) return;
      out.push({ second: toSecond - span + i, concurrency: Number(c ?? 0), requests: Number(r ?? 0) });
    });
    return out;
  }

  async poke(revisionKey: string): Promise<void> {
    await this.op('poke', () => this.redis.publish(this.pokeChannel, revisionKey));
  }

  onPoke(listener: (revisionKey: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves while the poke subscription is live; rejects after `timeoutMs` (Redis unreachable). */
  pokesReady(timeoutMs = POKES_READY_TIMEOUT_MS): Promise<void> {
    if (this.isSubscribed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis store at ${this.address}: not subscribed to pokes within ${timeoutMs} ms (is Redis reachable?)`)),
        timeoutMs,
      );
      void this.subscribed.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async forget(revisionKey: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.op('forget', () => this.redis.scan(cursor, 'MATCH', `${this.prefix}:[bo]:${revisionKey}:*`, 'COUNT', 500));
      cursor = next;
      if (keys.length > 0) await this.op('forget', () => this.redis.del(...keys));
    } while (cursor !== '0');
  }

  /** One shared token bucket per key (core/redis-token-bucket.ts); rejects at once while Redis is not connected. */
  async takeToken(key: string, rate: number, burst: number): Promise<TokenAnswer> {
    if (this.redis.status !== 'ready') throw new Error(`redis store at ${this.address}: takeToken failed: not connected (${this.redis.status})`);
    const run = this.redis as unknown as { sluiceTakeToken(key: string, rate: number, burst: number): Promise<[number, number]> };
    const [allowed, waitMs] = await this.op('takeToken', () => run.sluiceTakeToken(`${this.prefix}:rl:${key}`, rate, burst));
    return { allowed: allowed === 1, retryAfterMs: waitMs };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await Promise.all([this.redis.quit().catch(() => undefined), this.sub.quit().catch(() => undefined)]);
  }
}

/** `host:port` of a Redis URL, without credentials (error messages may be logged). */
function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}
