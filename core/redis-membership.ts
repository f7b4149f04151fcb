import { Redis } from 'ioredis';
import type { Clock, TimerHandle } from './clock.js';
import type { Logger } from './log.js';
import { inFlightHoldMs, inFlightKeys, type GatewayMembership } from './membership.js';

/** A gateway that stops heartbeating drops out of every member's list within `leaseMs + heartbeatMs`. */
export const DEFAULT_GATEWAY_LEASE_MS = 10_000;
/** A bound on the member list read back from Redis (a fleet is a handful of pods, not thousands). */
export const MAX_GATEWAYS = 1000;
/**
 * A bound on one member's published record (JSON characters); a larger one is refused, naming the limit (the
 * Activator logs it, and that gateway's hand-overs then wait). A record carries a few entries per bounded revision
 * with ready replicas, so this is what caps such revisions per fleet: about 500 with 2 replicas each, 230 with 10
 * (docs/kubernetes.md). Every gateway reads every record on each change, so it is not unbounded either.
 */
export const MAX_RECORD_CHARS = 256 * 1024;
/** A published change that is a gateway's clean leave: the others drop it at once. */
const LEAVE = 'leave:';
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
 * Records (`publish`/`states`, the Activator's capacity hand-over): one hash `<prefix>:gateways:records`, a field
 * per gateway holding its latest record as JSON. A publish is written at once (coalesced: at most one write in
 * flight, then the latest record) and announced on the same channel; every heartbeat writes it again (so a
 * Redis that lost its data is refilled) and drops the records of gateways no longer live.
 *
 * Time: a SIGKILLed gateway drops out of the others' lists within `leaseMs + heartbeatMs`; a clean close()
 * at once. Leases are judged on the gateways' own clocks, so their skew must stay well under the lease (NTP).
 *
 * Departed gateways (`departed()`): a gateway whose record says requests may be in flight (IN_FLIGHT entries,
 * published by the Activator because `departsByRecord`) also keeps an entry in the sorted set
 * `<prefix>:gateways:held`, scored by its lease's end plus the longest of those requests' timeouts; it rewrites
 * it with every heartbeat and every record it publishes, and removes it when its record says nothing is in
 * flight. When its lease runs out without a leave, the others count it departed for those revisions until that
 * score: its record stays on the board (the Activator keeps the share it last settled on out of theirs), and
 * then goes. A clean close() removes the entry with the lease (a gateway closes after draining). All of these
 * keys expire ten leases after the last live gateway's heartbeat, and a Redis that loses its data forgets the
 * departed. Gateway ids must not be reused while held: a new gateway with a departed one's id replaces its record.
 *
 * Redis down: members() keeps the last list read (this gateway keeps its last share; the others are neither
 * added nor dropped), states() is undefined (no board: the Activator applies share changes at once, so a replica
 * may briefly see more than its containerConcurrency while replicas come and go) and `onRedisState(false)` fires
 * once; when Redis returns, the next heartbeat registers again and writes this gateway's record (a Redis that
 * lost its data is refilled within one heartbeat), and the list and the board are read again.
 */
export class RedisMembership implements GatewayMembership {
  readonly self: string;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly clock: Clock;
  private readonly key: string;
  private readonly channel: string;
  private readonly recordsKey: string;
  private readonly heldKey: string;
  /** The longest in-flight timeout this gateway's record states (ms; 0: nothing in flight). */
  private recordHold = 0;
  /** Departed gateways (lease over, no leave, still held) and the revisions their records name. */
  private gone: ReadonlyMap<string, ReadonlySet<string>> = new Map();
  /** The end of the latest lease seen for each gateway (its writer's clock). */
  private readonly expiry = new Map<string, number>();
  /** Gateways that announced their leave since the last read. */
  private readonly left = new Set<string>();
  private record: string | null = null;
  private board: ReadonlyMap<string, Readonly<Record<string, string>>> = new Map();
  private boardText = new Map<string, string>();
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
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
    this.recordsKey = `${prefix}:gateways:records`;
    this.heldKey = `${prefix}:gateways:held`;
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
    // Our own announcements need no re-read.
    this.sub.on('message', (_channel: string, from: string) => {
      if (from.startsWith(LEAVE)) this.left.add(from.slice(LEAVE.length));
      if (from !== this.self) void this.refresh();
    });
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

  /** The last record each other live or departed gateway published; undefined while Redis is unreachable. */
  states(): ReadonlyMap<string, Readonly<Record<string, string>>> | undefined {
    return this.redisUp === false ? undefined : this.board;
  }

  /** Gateways whose lease ran out while their records said requests were in flight, until those have ended. */
  departed(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.gone;
  }

  /** This gateway learns a departed one's revisions from its record: the Activator publishes IN_FLIGHT entries. */
  get departsByRecord(): true {
    return true;
  }

  /** Replaces this gateway's record; written to Redis at once (coalesced) and again on every heartbeat. */
  publish(record: Readonly<Record<string, string>>): void {
    const text = JSON.stringify(record);
    if (text.length > MAX_RECORD_CHARS) throw new Error(`gateway membership: a record of ${text.length} characters is over the limit of ${MAX_RECORD_CHARS}`);
    if (text === this.record) return;
    this.record = text;
    this.recordHold = inFlightHoldMs(record);
    if (this.closed) return;
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = this.flush().finally(() => (this.flushing = null));
  }

  private async flush(): Promise<void> {
    do {
      this.flushAgain = false;
      // Redis down: the heartbeat that finds it again writes the record.
      if (this.redis.status !== 'ready' || this.record === null) return;
      const m = this.redis.multi().hset(this.recordsKey, this.self, this.record).pexpire(this.recordsKey, this.leaseMs * 10);
      this.writeHeld(m, this.clock.now());
      await m
        .publish(this.channel, this.self)
        .exec()
        .catch(() => undefined);
    } while (this.flushAgain && !this.closed);
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
      const m = this.redis
        .multi()
        .zadd(this.key, now + this.leaseMs, this.self)
        .zremrangebyscore(this.key, '-inf', now)
        .zrangebyscore(this.key, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, MAX_GATEWAYS)
        // The whole set goes when every gateway is gone (a stale test prefix, a removed installation).
        .pexpire(this.key, this.leaseMs * 10)
        .hgetall(this.recordsKey)
        .zremrangebyscore(this.heldKey, '-inf', now)
        .zrangebyscore(this.heldKey, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, MAX_GATEWAYS);
      if (this.record !== null) m.hset(this.recordsKey, this.self, this.record).pexpire(this.recordsKey, this.leaseMs * 10);
      this.writeHeld(m, now);
      const res = await m.exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
      const joined = res[0]![1] === 1;
      const pruned = Number(res[1]![1]);
      const live = leases(res[2]![1] as string[]);
      const records = res[4]![1] as Record<string, string>;
      const held = leases(res[6]![1] as string[]);
      // Records of gateways no longer live go with them, unless they are held (departed with requests in flight).
      const gone = Object.keys(records).filter((id) => id !== this.self && !live.has(id) && !held.has(id));
      if (gone.length > 0) await this.redis.hdel(this.recordsKey, ...gone);
      const wasUp = this.redisUp;
      // Back from an outage: nobody could heartbeat while Redis was gone (and a Redis that lost its data lists
      // nobody yet), so every gateway known before gets one lease from now to register again.
      if (wasUp === false) for (const id of this.expiry.keys()) this.expiry.set(id, Math.max(this.expiry.get(id)!, now + this.leaseMs));
      this.markRedis(true);
      const changed = this.apply(live, records, held, wasUp !== true);
      // Others re-read at once: we are new (or back after Redis lost us), or we saw someone's lease run out.
      if (joined || pruned > 0 || changed) await this.redis.publish(this.channel, this.self).catch(() => undefined);
    } catch (err) {
      this.markRedis(false, err);
    }
  }

  /** Re-reads the live list and the records (after a change was published); coalesced. */
  private refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const now = this.clock.now();
          const res = await this.redis
            .multi()
            .zrangebyscore(this.key, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, MAX_GATEWAYS)
            .hgetall(this.recordsKey)
            .zrangebyscore(this.heldKey, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, MAX_GATEWAYS)
            .exec();
          if (!res || res.some(([err]) => err)) return;
          if (this.redisUp === false) return; // the heartbeat that finds Redis again re-reads everything
          this.apply(leases(res[0]![1] as string[]), res[1]![1] as Record<string, string>, leases(res[2]![1] as string[]));
        } catch {
          return; // the heartbeat reports the outage
        }
      } while (this.refreshAgain && !this.closed);
    })().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  /**
   * Takes a read of the leases, the records and the held entries; tells the listeners when any changed (or
   * `force`). A gateway stays a member until the end of the latest lease seen for it (or its leave), not merely
   * while Redis lists it: a Redis that restarted empty must not make each gateway think it is alone (and take
   * every slot). One that is no longer a member but still held, and did not leave, is departed.
   */
  private apply(read: ReadonlyMap<string, number>, records: Record<string, string>, held: ReadonlyMap<string, number>, force = false): boolean {
    const now = this.clock.now();
    for (const [id, until] of read) this.expiry.set(id, Math.max(this.expiry.get(id) ?? 0, until));
    const leftNow = new Set(this.left);
    for (const [id, until] of this.expiry) if (until <= now || this.left.has(id)) this.expiry.delete(id);
    this.left.clear();
    while (this.expiry.size > MAX_GATEWAYS) this.expiry.delete(this.expiry.keys().next().value!);
    const next = [...new Set([...this.expiry.keys(), this.self])].sort();
    const membersChanged = !(next.length === this.list.length && next.every((id, i) => id === this.list[i]));
    const text = new Map<string, string>();
    for (const id of next) if (id !== this.self && records[id] !== undefined) text.set(id, records[id]!);
    const departedIds: string[] = [];
    for (const [id, until] of held) {
      if (until <= now || id === this.self || this.expiry.has(id) || leftNow.has(id) || records[id] === undefined) continue;
      departedIds.push(id);
      text.set(id, records[id]!);
    }
    const boardChanged = text.size !== this.boardText.size || [...text].some(([id, t]) => this.boardText.get(id) !== t);
    if (boardChanged) {
      const board = new Map<string, Readonly<Record<string, string>>>();
      for (const [id, t] of text) {
        try {
          board.set(id, JSON.parse(t) as Record<string, string>);
        } catch {
          // not a record of ours: as if that gateway had published nothing
        }
      }
      this.boardText = text;
      this.board = board;
    }
    // (A few records at most: worked out on every read.)
    const gone = new Map<string, ReadonlySet<string>>();
    for (const id of departedIds) {
      const keys = inFlightKeys(this.board.get(id));
      if (keys.size > 0) gone.set(id, keys);
    }
    if (gone.size !== this.gone.size || [...gone.keys()].some((id) => !this.gone.has(id)))
      this.logger?.info({ departed: [...gone.keys()], before: [...this.gone.keys()] }, 'gateway membership: departed gateways changed (lease over while their requests may still run)');
    this.gone = gone;
    if (membersChanged) {
      this.logger?.info({ members: next, before: this.list }, 'gateway membership changed');
      this.list = next;
    }
    if (membersChanged || boardChanged || force) this.notify();
    return membersChanged;
  }

  /**
   * Adds this gateway's held entry to `m` (its lease's end at `now` plus its record's longest in-flight timeout),
   * or its removal when the record says nothing is in flight; and renews the set's expiry (ten leases), as every
   * heartbeat does for the others.
   */
  private writeHeld(m: ReturnType<Redis['multi']>, now: number): void {
    if (this.recordHold > 0) m.zadd(this.heldKey, now + this.leaseMs + this.recordHold, this.self);
    else m.zrem(this.heldKey, this.self);
    m.pexpire(this.heldKey, this.leaseMs * 10);
  }

  private notify(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.logger?.warn({ err: String(err) }, 'gateway membership listener failed');
      }
    }
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
    // states() changes between a board and none.
    if (!up) this.notify();
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
      await this.flushing?.catch(() => undefined);
      const leave = this.redis
        .multi()
        .zrem(this.key, this.self)
        .zrem(this.heldKey, this.self)
        .hdel(this.recordsKey, this.self)
        .publish(this.channel, LEAVE + this.self)
        .exec()
        .catch(() => undefined);
      await Promise.race([leave, new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS).unref())]);
    }
    this.redis.disconnect();
    this.sub.disconnect();
  }
}

/** ZRANGEBYSCORE … WITHSCORES: id, score, id, score… → id → lease end. */
function leases(flat: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, Number(flat[i + 1]));
  return out;
}
