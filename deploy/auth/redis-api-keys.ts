/**
 * API keys in cluster mode: kept in the Redis the gateways already share, as one hash (`<prefix>:auth:apikeys`,
 * id → record JSON; hashes only, never keys) and a version counter (`<prefix>:auth:apikeys:version`) bumped by
 * every create and revoke. Each gateway holds the whole set in memory (bounded by `max`) and reads the version
 * every `pollMs` (default 2 s), reloading the set when it changed. So a revoked key stops working on every
 * gateway within `pollMs` plus one Redis round trip, while Redis is reachable; when it is not, a gateway keeps
 * the last set it read (it cannot learn of revocations until Redis is back) and logs the failure.
 */
import { Redis } from 'ioredis';
import { newApiKey, type ApiKeyRecord, type ApiKeyScope } from '../../api/api-keys.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { HttpError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';

export interface RedisApiKeysOptions {
  url: string;
  prefix?: string;
  clock: Clock;
  logger: Logger;
  pollMs?: number;
  max: number;
}

export class RedisApiKeys {
  private readonly redis: Redis;
  private readonly hashKey: string;
  private readonly versionKey: string;
  private byHashMap = new Map<string, ApiKeyRecord>();
  private seenVersion: string | null = null;
  /** Bumped each time a changed set is loaded (the auth stage drops its lookup cache). */
  loads = 0;
  private timer: TimerHandle | null = null;
  private polling: Promise<void> | null = null;

  constructor(private readonly o: RedisApiKeysOptions) {
    this.redis = new Redis(o.url, { lazyConnect: false, maxRetriesPerRequest: 2 });
    this.redis.on('error', () => {}); // operations fail on their own; poll() logs
    const prefix = o.prefix ?? 'sluice';
    this.hashKey = `${prefix}:auth:apikeys`;
    this.versionKey = `${prefix}:auth:apikeys:version`;
  }

  /** Reads the set once (the gateway starts with it), then polls. */
  async start(): Promise<void> {
    await this.poll().catch(() => {}); // logged; the gateway starts with no keys and keeps polling
    this.timer = this.o.clock.setInterval(() => void this.poll().catch(() => {}), this.o.pollMs ?? 2000);
  }

  get version(): number {
    return this.loads;
  }

  byHash(hash: string): ApiKeyRecord | undefined {
    return this.byHashMap.get(hash);
  }

  /** Reads the version; reloads the set when it changed. One poll at a time. */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const v = await this.redis.get(this.versionKey);
        if (v === this.seenVersion) return;
        const all = await this.redis.hgetall(this.hashKey);
        const next = new Map<string, ApiKeyRecord>();
        for (const json of Object.values(all)) {
          if (next.size >= this.o.max) break;
          const r = JSON.parse(json) as ApiKeyRecord;
          next.set(r.hash, r);
        }
        this.byHashMap = next;
        this.seenVersion = v;
        this.loads++;
      } catch (err) {
        this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'cannot read API keys from Redis; keeping the last set read');
        throw err;
      } finally {
        this.polling = null;
      }
    })();
    return this.polling;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return Object.values(await this.redis.hgetall(this.hashKey)).map((j) => JSON.parse(j) as ApiKeyRecord);
  }

  async create(name: string, scopes: readonly ApiKeyScope[]): Promise<{ key: string; record: ApiKeyRecord }> {
    if ((await this.redis.hlen(this.hashKey)) >= this.o.max) throw new HttpError(409, `there are already ${this.o.max} API keys (the limit, setting maxApiKeys); revoke some first`);
    const made = newApiKey(name, scopes, new Date(this.o.clock.now()));
    await this.redis.multi().hset(this.hashKey, made.record.id, JSON.stringify(made.record)).incr(this.versionKey).exec();
    return made;
  }

  async revoke(id: string): Promise<boolean> {
    const r = await this.redis.multi().hdel(this.hashKey, id).incr(this.versionKey).exec();
    return Number(r?.[0]?.[1] ?? 0) > 0;
  }

  async close(): Promise<void> {
    if (this.timer) this.o.clock.clearInterval(this.timer);
    await this.polling?.catch(() => {});
    this.redis.disconnect();
  }
}
