import { describe, expect, it } from 'vitest';
import { FakeClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import type { GatewayMembership } from '../core/membership.js';
import { SluiceMetrics } from '../core/metrics.js';
import type { Endpoint, EndpointEvent } from '../api/backend.js';
import { Activator, type Lease } from './activator.js';
import { seededRandom as rng } from '../test/support/seeded-random.js';

const KEY = 'default/gpu-predictor-00001';
const LABELS = { namespace: 'default', service: 'gpu', revision: 'gpu-predictor-00001' };
const LIMITS = { maxHeldPerRevision: 10_000, maxHeldTotal: 10_000, maxHeldBytesPerRevision: 1e9, maxHeldBytesTotal: 1e9, retryAfterSeconds: 1 };


type Msg =
  /** The live members and the departed ones with their revisions and last records (as the primary's board). */
  | { kind: 'members'; members: string[]; departed: Array<[string, Set<string>, Record<string, string> | undefined]> }
  | { kind: 'record'; from: string; record: Record<string, string> }
  | { kind: 'endpoint'; ev: EndpointEvent };

/**
 * Gateways that learn about each other only through messages delivered one at a time, in order per receiver,
 * whenever the test says (the primary's IPC or Redis, with its lag).
 */
class Group {
  readonly inbox = new Map<string, Msg[]>();
  readonly views = new Map<
    string,
    { members: string[]; departed: Map<string, Set<string>>; records: Map<string, Record<string, string>>; listeners: Set<() => void> }
  >();
  members: string[] = [];
  /** Gateways that died with requests in flight, until those are done: their revisions and last records. */
  readonly departed = new Map<string, { keys: Set<string>; record: Record<string, string> | undefined }>();
  private readonly last = new Map<string, Record<string, string>>();

  join(id: string): GatewayMembership {
    this.members = [...this.members, id].sort();
    this.views.set(id, { members: [...this.members], departed: new Map(), records: new Map(), listeners: new Set() });
    this.inbox.set(id, []);
    this.broadcastMembers(id);
    const group = this;
    return {
      self: id,
      // A dead gateway's activator still counts its requests down; it sees nobody (and publishes nothing).
      members: () => group.views.get(id)?.members ?? [],
      subscribe(l) {
        group.views.get(id)!.listeners.add(l);
        return () => group.views.get(id)?.listeners.delete(l);
      },
      publish(record) {
        if (!group.views.has(id)) return; // dead
        group.last.set(id, { ...record });
        group.broadcast({ kind: 'record', from: id, record: { ...record } }, id);
      },
      states: () => group.views.get(id)?.records ?? new Map(),
      departed: () => group.views.get(id)?.departed ?? new Map(),
      async close() {},
    };
  }

  leave(id: string): void {
    this.members = this.members.filter((m) => m !== id);
    this.views.delete(id);
    this.inbox.delete(id);
    this.last.delete(id);
    this.broadcastMembers();
  }

  /** Dies with requests for `keys` still running: the others see its last record (the primary read them all). */
  die(id: string, keys: Set<string>): void {
    this.departed.set(id, { keys, record: this.last.get(id) });
    this.leave(id);
  }

  /** A dead gateway's requests are done (their deadlines have passed): it is forgotten. */
  expire(id: string): void {
    this.departed.delete(id);
    this.broadcastMembers();
  }

  private broadcastMembers(except?: string): void {
    const departed = [...this.departed].map(([d, v]) => [d, v.keys, v.record] as [string, Set<string>, Record<string, string> | undefined]);
    this.broadcast({ kind: 'members', members: [...this.members], departed }, except);
  }

  broadcast(m: Msg, except?: string): void {
    for (const [id, q] of this.inbox) if (id !== except) q.push(m);
  }

  /** Delivers the oldest message waiting for `id`; false when none. */
  deliver(id: string, activator: Activator): boolean {
    const m = this.inbox.get(id)?.shift();
    if (!m) return false;
    const v = this.views.get(id)!;
    if (m.kind === 'endpoint') activator.onEndpointEvent(m.ev);
    else {
      if (m.kind === 'members') {
        v.members = m.members;
        v.departed = new Map(m.departed.map(([d, keys]) => [d, keys]));
        for (const k of [...v.records.keys()]) if (!m.members.includes(k)) v.records.delete(k);
        for (const [d, , record] of m.departed) if (record) v.records.set(d, record);
      } else if (this.members.includes(m.from) || this.departed.has(m.from)) v.records.set(m.from, m.record);
      for (const l of [...v.listeners]) l();
    }
    return true;
  }
}

function endpoint(n: number, cc: number): Endpoint {
  return { id: `${KEY}#${n}`, revisionKey: KEY, url: `http://127.0.0.1:${41000 + n}`, capacity: cc, readinessPath: '/' };
}

interface Gw {
  id: string;
  activator: Activator;
  leases: Lease[];
  waiting: number;
}

function gateway(group: Group, clock: FakeClock, id: string, replicas: Endpoint[]): Gw {
  const membership = group.join(id);
  const activator = new Activator({
    clock,
    metrics: new SluiceMetrics(),
    logger: silentLogger(),
    limits: LIMITS,
    poke: () => {},
    random: () => 0.5,
    probes: { probe: async () => true, healthIntervalMs: 0 },
    membership,
    shareTurnMs: 50,
  });
  activator.addRevision(KEY, LABELS);
  for (const ep of replicas) activator.onEndpointEvent({ type: 'ready', endpoint: ep });
  return { id, activator, leases: [], waiting: 0 };
}

function request(clock: FakeClock, g: Gw): void {
  const p = g.activator.acquire(KEY, { deadlineAt: clock.now() + 1e9, bytes: 0 });
  if ('then' in p) {
    g.waiting++;
    void p.then(
      (l) => {
        g.waiting--;
        g.leases.push(l);
      },
      () => {
        g.waiting--;
      },
    );
  } else g.leases.push(p);
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** In flight per replica, summed over every gateway. */
function totals(gws: Iterable<Gw>): Map<string, number> {
  const t = new Map<string, number>();
  for (const g of gws) for (const r of g.activator.replicas(KEY)) t.set(r.id, (t.get(r.id) ?? 0) + r.inflight);
  return t;
}

/** Two gateways in front of one replica at cc = 1, settled; `settle` delivers every message waiting. */
async function twoGatewaysOneSlot(): Promise<{ clock: FakeClock; gws: Gw[]; settle: () => Promise<void> }> {
  const clock = new FakeClock(0);
  const group = new Group();
  const rep = endpoint(1, 1);
  const gws = [gateway(group, clock, 'w1', [rep]), gateway(group, clock, 'w2', [rep])];
  const settle = async (): Promise<void> => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const g of gws) while (group.deliver(g.id, g.activator)) moved = true;
      await flush();
    }
  };
  await settle();
  return { clock, gws, settle };
}

describe('Activator shares across gateways (membership)', () => {
  it('one replica at cc = 1, two gateways: requests at either are all served, never 2 in flight', async () => {
    const { clock, gws, settle } = await twoGatewaysOneSlot();
    for (let i = 0; i < 5; i++) {
      request(clock, gws[0]!);
      request(clock, gws[1]!);
    }
    await flush();
    let served = 0;
    let maxTogether = 0;
    for (let step = 0; step < 1000 && served < 10; step++) {
      await settle();
      maxTogether = Math.max(maxTogether, ...totals(gws).values());
      const g = gws.find((x) => x.leases.length > 0);
      if (g) {
        g.leases.shift()!.release();
        served++;
      } else clock.advance(50);
      await flush();
    }
    expect(served).toBe(10);
    expect(maxTogether).toBe(1);
    expect(gws.map((g) => g.waiting)).toEqual([0, 0]);
  });

  it('one replica at cc = 1: a waiting gateway gets its turn while the holder still has requests waiting', async () => {
    const { clock, gws, settle } = await twoGatewaysOneSlot();
    for (let i = 0; i < 20; i++) {
      request(clock, gws[0]!);
      request(clock, gws[1]!);
    }
    await flush();
    // Serve one request every 20 ms (shareTurnMs is 50): who served, in order.
    const order: string[] = [];
    for (let step = 0; step < 2000 && order.length < 40; step++) {
      await settle();
      const g = gws.find((x) => x.leases.length > 0);
      if (g) {
        g.leases.shift()!.release();
        order.push(g.id);
      }
      clock.advance(20);
      await flush();
    }
    expect(order).toHaveLength(40);
    // The first holder does not serve its whole queue before the other gets a turn.
    const first = order[0]!;
    const other = first === 'w1' ? 'w2' : 'w1';
    expect(order.indexOf(other)).toBeLessThan(10);
  });

  it('never exceeds cc while gateways and replicas come and go, or are killed with requests in flight (random interleavings), and serves everything held', async () => {
    for (let seed = 1; seed <= 80; seed++) {
      const r = rng(seed);
      const clock = new FakeClock(0);
      const group = new Group();
      const cc = 1 + Math.floor(r() * 4);
      let nextReplica = 1;
      let replicas = [endpoint(nextReplica++, cc)];
      const gws = new Map<string, Gw>();
      let nextGw = 1;
      for (let i = 0; i < 2; i++) {
        const id = `g${nextGw++}`;
        gws.set(id, gateway(group, clock, id, replicas));
      }
      const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
      // Gateways killed with requests in flight: those still run on the replicas until they end.
      const dead = new Map<string, Gw>();
      for (let step = 0; step < 400; step++) {
        const x = r();
        const all = [...gws.values()];
        if (x < 0.3) request(clock, pick(all));
        else if (x < 0.5) {
          const g = pick(all);
          if (g.leases.length) g.leases.splice(Math.floor(r() * g.leases.length), 1)[0]!.release();
        } else if (x < 0.85) {
          const g = pick(all);
          group.deliver(g.id, g.activator);
        } else if (x < 0.9) clock.advance(20);
        else if (x < 0.94 && gws.size < 4) {
          const id = `g${nextGw++}`;
          gws.set(id, gateway(group, clock, id, replicas));
        } else if (x < 0.96 && gws.size > 1) {
          // A clean stop: its requests finish, then it leaves.
          const g = pick(all);
          for (const l of g.leases) l.release();
          g.leases = [];
          g.activator.failAllHeld(new Error('stopping') as never);
          g.activator.close();
          gws.delete(g.id);
          group.leave(g.id);
        } else if (x < 0.965 && gws.size > 1) {
          // Killed: its held requests fail; those it forwarded run on (they end below, one by one), and the
          // others learn it is gone along with its last record.
          const g = pick(all);
          g.activator.failAllHeld(new Error('killed') as never);
          g.activator.close();
          gws.delete(g.id);
          if (g.leases.length) {
            dead.set(g.id, g);
            group.die(g.id, new Set([KEY]));
          } else group.leave(g.id);
        } else if (x < 0.975 && dead.size) {
          const g = pick([...dead.values()]);
          if (g.leases.length) g.leases.shift()!.release();
          else {
            dead.delete(g.id);
            group.expire(g.id);
          }
        } else if (x < 0.98 && replicas.length < 4) {
          const ep = endpoint(nextReplica++, cc);
          replicas = [...replicas, ep];
          group.broadcast({ kind: 'endpoint', ev: { type: 'ready', endpoint: ep } });
        } else if (replicas.length > 1) {
          const ep = pick(replicas);
          replicas = replicas.filter((e) => e !== ep);
          group.broadcast({ kind: 'endpoint', ev: { type: 'draining', endpoint: ep } });
        }
        await flush();
        for (const [id, n] of totals([...gws.values(), ...dead.values()])) expect(n, `seed ${seed} step ${step}: ${id} (cc ${cc})`).toBeLessThanOrEqual(cc);
      }
      // The dead gateways' requests end, and their deadlines pass.
      for (const g of dead.values()) {
        for (const l of g.leases) l.release();
        group.expire(g.id);
      }
      // Quiesce: deliver everything, finish requests, let turns pass; every held request is served.
      for (let round = 0; round < 2000; round++) {
        for (let moved = true; moved; ) {
          moved = false;
          for (const g of gws.values()) while (group.deliver(g.id, g.activator)) moved = true;
          await flush();
        }
        for (const [id, n] of totals(gws.values())) expect(n, `seed ${seed} quiesce: ${id}`).toBeLessThanOrEqual(cc);
        const busy = [...gws.values()].filter((g) => g.leases.length > 0);
        for (const g of busy) g.leases.shift()!.release();
        if (busy.length === 0) {
          if ([...gws.values()].every((g) => g.waiting === 0)) break;
          clock.advance(50);
        }
        await flush();
      }
      expect(
        [...gws.values()].map((g) => g.waiting),
        `seed ${seed}: requests still held`,
      ).toEqual([...gws.values()].map(() => 0));
    }
  });
});
