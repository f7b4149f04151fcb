import { Redis } from 'ioredis';
import type { MetricBucket, Store } from './store.js';

export interface RedisStoreOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Key prefix, so several Sluice installations can share one Redis. */
  prefix?: string;
  /** Seconds a bucket lives (must cover the longest stable window). */
  retentionSeconds?: number;
}

/**
 * The Store for cluster mode: every gateway and activator adds its 1-second buckets into one hash per
 * revision and second (HINCRBYFLOAT sums across instances), and pokes travel over pub/sub.
 */
export class RedisStore implements Store {
  private readonly redis: Redis;
  private readonly sub: Redis;
  /** The poke subscription, made at construction so no poke sent after it is confirmed is missed. */
  private readonly subscribed: Promise<void>;
  private readonly prefix: string;
  private readonly retention: number;
  private readonly listeners = new Set<(revisionKey: string) => void>();

  constructor(opts: RedisStoreOptions) {
    this.redis = new Redis(opts.url, { lazyConnect: false, maxRetriesPerRequest: 2, enableAutoPipelining: true });
    this.prefix = opts.prefix ?? 'sluice';
    this.retention = opts.retentionSeconds ?? 3600;
    // Subscribed at connect, not at the first onPoke(): a listener added later is live at once, and a poke
    // published between onPoke() and an in-flight SUBSCRIBE can no longer be lost. ioredis re-subscribes
    // after a reconnect.
    this.sub = this.redis.duplicate();
    this.sub.on('message', (_channel: string, message: string) => {
      for (const l of this.listeners) l(message);
    });
    this.subscribed = this.sub.subscribe(this.pokeChannel).then(
      () => undefined,
      (err: unknown) => {
        throw new Error(`redis store: cannot subscribe to ${this.pokeChannel}: ${String(err)}`);
      },
    );
    this.subscribed.catch(() => undefined); // reported through pokesReady(); never an unhandled rejection
  }

  private key(revisionKey: string, second: number): string {
    return `${this.prefix}:b:${revisionKey}:${second}`;
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
    await m.exec();
  }

  async readBuckets(revisionKey: string, fromSecond: number, toSecond: number): Promise<MetricBucket[]> {
    const span = Math.max(0, Math.min(toSecond - fromSecond, this.retention));
    if (span === 0) return [];
    const p = this.redis.pipeline();
    for (let s = toSecond - span; s < toSecond; s++) p.hmget(this.key(revisionKey, s), 'c', 'r');
    const res = (await p.exec()) ?? [];
    const out: MetricBucket[] = [];
    res.forEach(([err, v], i) => {
      if (err) throw err;
      const [c, r] = v as [string | null, string | null];
      if (c === null && r === null) return;
      out.push({ second: toSecond - span + i, concurrency: Number(c ?? 0), requests: Number(r ?? 0) });
    });
    return out;
  }

  async poke(revisionKey: string): Promise<void> {
    await this.redis.publish(this.pokeChannel, revisionKey);
  }

  onPoke(listener: (revisionKey: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  pokesReady(): Promise<void> {
    return this.subscribed;
  }

  async forget(revisionKey: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:b:${revisionKey}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await this.redis.del(...keys);
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await Promise.all([this.redis.quit().catch(() => undefined), this.sub.quit().catch(() => undefined)]);
  }
}
