import { Redis } from 'ioredis';
import type { Clock, TimerHandle } from './clock.js';
import type { Logger } from './log.js';
import type { GatewayMembership } from './membership.js';

/** A gateway that stops heartbeating drops out of every member's list within `leaseMs + heartbeatMs`. */
export const DEFAULT_GATEWAY_LEASE_MS = 10_000;
/** A bound on the member list read back from Redis (a fleet is a handful of pods, not thousands). */
export const MAX_GATEWAYS = 1000;
/** How long close() waits for Redis before leaving it to the lease. */
const CLOSE_TIMEOUT_MS = 2000;

export interface RedisMembershipOptions {
  /** `redis://host:port/db`, the Redis the gateways share. */
  url: string;
  /** This gateway's id (the pod name); unique among live gateways. */
  self: string;
  clock: Clock;
  /** Key prefix (as RedisStore's). Default `sluice`. */
  prefix?: string;
  /** A gateway's registration lives this long after its last heartbeat. Default 10 s. */
  leaseMs?: number;
  /** Heartbeat (re-register and re-read the list) period. Default leaseMs / 3. */
  heartbeatMs?: number;
  logger?: Logger;
  /** Called when Redis becomes unreachable (false) or reachable again (true), for a metric. */
  onRedisState?: (up: boolean) => void;
}

/**
 * Gateway membership through Redis: one sorted set `<prefix>:gateways` holds each gateway's id scored by the
 * time its lease runs out (written by the gateway itself, on its own clock). Every heartbeat re-registers this
 * gateway, prunes expired entries and reads the live ones; a join or a leave is published on
 * `<prefix>:gateways:changed` so the others re-read at once instead of at their next heartbeat.
 *
 * Time: a SIGKILLed gateway drops out of the others' lists within `leaseMs + heartbeatMs`; a clean close()
 * at once. Leases are judged on the gateways' own clocks, so their skew must stay well under the lease (NTP).
 *
 * Redis down: members() keeps the last list read (this gateway keeps its last share; the others are neither
 * added nor dropped) and `onRedisState(false)` fires once; when Redis returns, the next heartbeat registers
 * again (a Redis that lost its data is refilled within one heartbeat) and the list is read again.
 */
export class RedisMembership implements GatewayMembership {
  readonly self: string;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly clock: Clock;
  private readonly key: string;
  private readonly channel: string;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly logger?: Logger;
  private readonly onRedisState?: (up: boolean) => void;
  private readonly listeners = new Set<() => void>();
  private list: readonly string[];
  private timer: TimerHandle | null = null;
  private beating: Promise<void> | null = null;
  private redisUp: boolean | null = null;
  private closed = false;

  constructor(opts: RedisMembershipOptions) {
    if (!opts.self) throw new Error('gateway membership: self (the gateway id) must not be empty');
    this.self = opts.self;
    this.clock = opts.clock;
    const prefix = opts.prefix ?? 'sluice';
    this.key = `${prefix}:gateways`;
    this.channel = `${prefix}:gateways:changed`;
    this.leaseMs = opts.leaseMs ?? DEFAULT_GATEWAY_LEASE_MS;
    if (!(this.leaseMs >= 100)) throw new Error(`gateway membership: leaseMs must be at least 100 (got ${this.leaseMs})`);
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(50, Math.floor(this.leaseMs / 3));
    if (!(this.heartbeatMs > 0 && this.heartbeatMs < this.leaseMs))
      throw new Error(`gateway membership: heartbeatMs must be above 0 and below leaseMs ${this.leaseMs} (got ${this.heartbeatMs})`);
    this.logger = opts.logger;
    this.onRedisState = opts.onRedisState;
    this.list = [this.self];
    this.redis = new Redis(opts.url, { maxRetriesPerRequest: 1, enableAutoPipelining: false, lazyConnect: true });
    this.sub = this.redis.duplicate({ lazyConnect: true });
    const ignore = (): void => {}; // reported through heartbeat failures, once per outage
    this.redis.on('error', ignore);
    this.sub.on('error', ignore);
    this.sub.on('message', () => void this.refresh());
    // (Re)subscribed on every connect: a change published while we were away is caught by the re-read.
    this.sub.on('ready', () => {
      this.sub.subscribe(this.channel).then(
        () => void this.refresh(),
        () => undefined,
      );
    });
  }

  /** Registers (one heartbeat, awaited; Redis down is not an error here) and starts heartbeating. */
  async start(): Promise<void> {
    this.redis.connect().catch(() => undefined);
    this.sub.connect().catch(() => undefined);
    this.timer = this.clock.setInterval(() => void this.heartbeat(), this.heartbeatMs);
    await this.heartbeat();
  }

  members(): readonly string[] {
    return this.list;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the last heartbeat reached Redis (null before the first). */
  get connected(): boolean | null {
    return this.redisUp;
  }

  get lease(): { leaseMs: number; heartbeatMs: number } {
    return { leaseMs: this.leaseMs, heartbeatMs: this.heartbeatMs };
  }

  /** One heartbeat: register, prune the expired, read the live; overlapping calls share one round trip. */
  heartbeat(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.beating ??= this.beat().finally(() => (this.beating = null));
    return this.beating;
  }

  private async beat(): Promise<void> {
    const now = this.clock.now();
    try {
      const res = await this.redis
        .multi()
        .zadd(this.key, now + this.leaseMs, this.self)
        .zremrangebyscore(this.key, '-inf', now)
        .zrangebyscore(this.key, `(${now}`, '+inf', 'LIMIT', 0, MAX_GATEWAYS)
        // The whole set goes when every gateway is gone (a stale test prefix, a removed installation).
        .pexpire(this.key, this.leaseMs * 10)
        .exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
      const joined = res[0]![1] === 1;
      const pruned = Number(res[1]![1]);
      this.markRedis(true);
      const changed = this.apply(res[2]![1] as string[]);
      // Others re-read at once: we are new (or back after Redis lost us), or we saw someone's lease run out.
      if (joined || pruned > 0 || changed) await this.redis.publish(this.channel, this.self).catch(() => undefined);
    } catch (err) {
      this.markRedis(false, err);
    }
  }

  /** Re-reads the live list (after a change was published). */
  private async refresh(): Promise<void> {
    if (this.closed) return;
    try {
      const ids = await this.redis.zrangebyscore(this.key, `(${this.clock.now()}`, '+inf', 'LIMIT', 0, MAX_GATEWAYS);
      this.apply(ids);
    } catch {
      // The heartbeat reports the outage.
    }
  }

  private apply(ids: string[]): boolean {
    const next = [...new Set([...ids, this.self])].sort();
    if (next.length === this.list.length && next.every((id, i) => id === this.list[i])) return false;
    const before = this.list;
    this.list = next;
    this.logger?.info({ members: next, before }, 'gateway membership changed');
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.logger?.warn({ err: String(err) }, 'gateway membership listener failed');
      }
    }
    return true;
  }

  private markRedis(up: boolean, err?: unknown): void {
    if (this.redisUp === up) return;
    const first = this.redisUp === null;
    this.redisUp = up;
    if (!up)
      this.logger?.warn(
        { err: err instanceof Error ? err.message : String(err), members: this.list },
        'gateway membership: Redis unreachable; keeping the last known gateways (and so this gateway\'s share) until it returns',
      );
    else if (!first) this.logger?.info({}, 'gateway membership: Redis reachable again; registered');
    this.onRedisState?.(up);
  }

  /** Leaves at once (the others re-read on the published change); bounded when Redis is down. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) this.clock.clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
    await this.beating?.catch(() => undefined);
    if (this.redis.status === 'ready') {
      const leave = this.redis
        .multi()
        .zrem(this.key, this.self)
        .publish(this.channel, this.self)
        .exec()
        .catch(() => undefined);
      await Promise.race([leave, new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS).unref())]);
    }
    this.redis.disconnect();
    this.sub.disconnect();
  }
}
