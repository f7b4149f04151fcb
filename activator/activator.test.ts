import { describe, expect, it } from 'vitest';
import { FakeClock } from '../core/clock.js';
import { HttpError } from '../core/errors.js';
import { silentLogger } from '../core/log.js';
import type { GatewayMembership } from '../core/membership.js';
import { SluiceMetrics } from '../core/metrics.js';
import type { Endpoint } from '../api/backend.js';
import { metricValue as exposedValue } from '../test/support/metrics-text.js';
import { Activator, type HoldLimits, type Lease } from './activator.js';

const KEY = 'default/iris-predictor-00001';
const LABELS = { namespace: 'default', service: 'iris', revision: 'iris-predictor-00001' };
const LIMITS: HoldLimits = {
  maxHeldPerRevision: 100,
  maxHeldTotal: 1000,
  maxHeldBytesPerRevision: 1_000_000,
  maxHeldBytesTotal: 10_000_000,
  retryAfterSeconds: 2,
};

function endpoint(n: number, capacity: number): Endpoint {
  return { id: `${KEY}#${n}`, revisionKey: KEY, url: `http://127.0.0.1:${40000 + n}`, capacity, readinessPath: '/v2/health/ready' };
}

/** Lets promise callbacks (probe results, lease resolutions) run; no time passes on the fake clock. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

interface Setup {
  clock: FakeClock;
  metrics: SluiceMetrics;
  activator: Activator;
  pokes: string[];
  /** Probe answers by endpoint id (default true). */
  probeOk: Map<string, boolean>;
  probes: string[];
}

function setup(o: { limits?: Partial<HoldLimits>; confirmNewReplicas?: boolean; healthIntervalMs?: number; membership?: GatewayMembership } = {}): Setup {
  const clock = new FakeClock(1_000_000);
  const metrics = new SluiceMetrics();
  const pokes: string[] = [];
  const probeOk = new Map<string, boolean>();
  const probes: string[] = [];
  const activator = new Activator({
    clock,
    metrics,
    logger: silentLogger(),
    limits: { ...LIMITS, ...o.limits },
    poke: (k) => pokes.push(k),
    random: () => 0.3,
    probes: {
      probe: async (ep) => {
        probes.push(ep.id);
        return probeOk.get(ep.id) ?? true;
      },
      intervalMs: 100,
      healthIntervalMs: o.healthIntervalMs ?? 0,
      failureThreshold: 2,
      confirmNewReplicas: o.confirmNewReplicas ?? false,
    },
    ...(o.membership ? { membership: o.membership } : {}),
  });
  activator.addRevision(KEY, LABELS);
  return { clock, metrics, activator, pokes, probeOk, probes };
}

/** Starts an acquire and records how it ends. */
function track(p: Lease | Promise<Lease>): { lease: Lease | null; error: HttpError | null; done: Promise<void> } {
  const t: { lease: Lease | null; error: HttpError | null; done: Promise<void> } = { lease: null, error: null, done: Promise.resolve() };
  t.done = Promise.resolve(p).then(
    (l) => {
      t.lease = l;
    },
    (e: unknown) => {
      t.error = e as HttpError;
    },
  );
  return t;
}

function acquire(s: Setup, extra: { bytes?: number; priority?: 'interactive' | 'batch'; signal?: AbortSignal; deadlineMs?: number } = {}) {
  return track(
    (() => {
      try {
        return s.activator.acquire(KEY, {
          deadlineAt: s.clock.now() + (extra.deadlineMs ?? 30_000),
          bytes: extra.bytes ?? 0,
          priority: extra.priority,
          signal: extra.signal,
        });
      } catch (err) {
        return Promise.reject(err);
      }
    })(),
  );
}

async function metricValue(s: Setup, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const json = await s.metrics.registry.getMetricsAsJSON();
  const m = json.find((x) => x.name === name);
  const v = (m?.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }> | undefined)?.find(
    (x) => Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val),
  );
  return v?.value;
}

describe('Activator hold queue', () => {
  it('goes straight to a replica with room, and holds when none has room', async () => {
    const s = setup();
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 1) });
    const a = acquire(s);
    await a.done;
    expect(a.lease?.replica.endpoint.id).toBe(`${KEY}#1`);
    expect(a.lease?.heldMs).toBe(0);
    const b = acquire(s);
    await flush();
    expect(b.lease).toBeNull();
    expect(s.activator.held(KEY)).toBe(1);
    s.clock.advance(40);
    a.lease!.release();
    await b.done;
    expect(b.lease?.heldMs).toBe(40);
    expect(b.lease?.coldStart).toBe(false);
  });

  it('refuses over each bound with 503, a Retry-After and a message naming the bound', async () => {
    const cases: Array<{ limits: Partial<HoldLimits>; first: number; second: number; reason: string; names: RegExp }> = [
      { limits: { maxHeldPerRevision: 1 }, first: 0, second: 0, reason: 'revision_queue_full', names: /maxHeldPerRevision=1/ },
      { limits: { maxHeldTotal: 1 }, first: 0, second: 0, reason: 'total_queue_full', names: /maxHeldTotal=1/ },
      { limits: { maxHeldBytesPerRevision: 1000 }, first: 600, second: 600, reason: 'revision_bytes_full', names: /maxHeldBytesPerRevision=1000/ },
      { limits: { maxHeldBytesTotal: 1000 }, first: 600, second: 600, reason: 'total_bytes_full', names: /maxHeldBytesTotal=1000/ },
    ];
    for (const c of cases) {
      const s = setup({ limits: c.limits });
      const first = acquire(s, { bytes: c.first });
      const second = acquire(s, { bytes: c.second });
      await second.done;
      expect(first.error).toBeNull();
      expect(second.error).toBeInstanceOf(HttpError);
      expect(second.error!.status).toBe(503);
      expect(second.error!.message).toMatch(c.names);
      expect(second.error!.headers).toEqual({ 'retry-after': '2' });
      expect(await metricValue(s, 'sluice_activator_rejected_total', { reason: c.reason })).toBe(1);
    }
  });

  it('answers 504 when no replica frees up before the deadline, and forgets the request', async () => {
    const s = setup();
    const a = acquire(s, { deadlineMs: 5_000, bytes: 10 });
    s.clock.advance(4_999);
    await flush();
    expect(a.error).toBeNull();
    s.clock.advance(1);
    await a.done;
    expect(a.error?.status).toBe(504);
    expect(a.error?.message).toMatch(/within the request timeout/);
    expect(s.activator.held(KEY)).toBe(0);
    expect(await metricValue(s, 'sluice_activator_held_bytes', LABELS)).toBe(0);
    expect(await metricValue(s, 'sluice_activator_rejected_total', { reason: 'deadline' })).toBe(1);
  });

  it('drops a request whose client went away at once; it never gets a replica', async () => {
    const s = setup();
    const ctl = new AbortController();
    const gone = acquire(s, { signal: ctl.signal });
    const stays = acquire(s);
    ctl.abort();
    await gone.done;
    expect(gone.error?.status).toBe(499);
    expect(s.activator.held(KEY)).toBe(1);
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 1) });
    await stays.done;
    expect(stays.lease).not.toBeNull();
    expect(gone.lease).toBeNull();
    expect(await metricValue(s, 'sluice_activator_rejected_total', { reason: 'client_gone' })).toBe(1);
  });

  it('releases interactive requests before batch ones, first in first out within a class', async () => {
    const s = setup();
    const order: string[] = [];
    const names = ['b1', 'i1', 'b2', 'i2', 'b3'];
    const all = names.map((n) => {
      const t = acquire(s, { priority: n.startsWith('b') ? 'batch' : 'interactive' });
      void t.done.then(() => order.push(n));
      return t;
    });
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 1) });
    for (let i = 0; i < names.length; i++) {
      await flush();
      const holder = all.find((t) => t.lease && !(t as { released?: boolean }).released);
      (holder as { released?: boolean }).released = true;
      holder!.lease!.release();
    }
    await Promise.all(all.map((t) => t.done));
    expect(order).toEqual(['i1', 'i2', 'b1', 'b2', 'b3']);
  });

  it('pokes the autoscaler on the first held request at once, then at most every pokeIntervalMs', async () => {
    const s = setup();
    acquire(s);
    expect(s.pokes).toEqual([KEY]);
    acquire(s);
    s.clock.advance(500);
    acquire(s);
    expect(s.pokes).toHaveLength(1);
    s.clock.advance(500);
    acquire(s);
    expect(s.pokes).toHaveLength(2);
  });

  it('marks a request held from zero as a cold start also with a membership (a worker of serve --workers N)', async () => {
    // One gateway whose board answers at once: its share of a new replica applies while the replica is added.
    const records = new Map<string, Readonly<Record<string, string>>>();
    const listeners = new Set<() => void>();
    const s = setup({
      membership: {
        self: 'w1',
        members: () => ['w1'],
        states: () => records,
        subscribe: (l) => {
          listeners.add(l);
          return () => listeners.delete(l);
        },
        publish: (r) => {
          records.set('w1', r);
          for (const l of [...listeners]) l();
        },
        close: async () => {},
      },
    });
    const cold = acquire(s);
    s.clock.advance(800);
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 1) });
    await cold.done;
    expect(cold.lease).toMatchObject({ coldStart: true, heldMs: 800 });
  });

  it('marks requests that waited for a revision with no replica as cold starts', async () => {
    const s = setup();
    const cold = acquire(s);
    s.clock.advance(1_500);
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 0) });
    await cold.done;
    expect(cold.lease).toMatchObject({ coldStart: true, heldMs: 1_500, viaActivator: true });
    const text = await s.metrics.registry.getSingleMetricAsString('sluice_activator_hold_seconds');
    // Held 1.5 s: in the 2 s bucket, not in the 1 s one.
    expect(exposedValue(text, 'sluice_activator_hold_seconds_bucket', { le: '1', revision: 'iris-predictor-00001' })).toBe(0);
    expect(exposedValue(text, 'sluice_activator_hold_seconds_bucket', { le: '2', revision: 'iris-predictor-00001' })).toBe(1);
  });
});

describe('Activator dispatch', () => {
  it('never puts more than containerConcurrency on a replica, and spreads a backlog as replicas become ready', async () => {
    const s = setup();
    const reqs = Array.from({ length: 12 }, () => acquire(s));
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 4) });
    await flush();
    expect(reqs.filter((r) => r.lease).length).toBe(4);
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(2, 4) });
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(3, 4) });
    await flush();
    const per = new Map<string, number>();
    for (const r of reqs) per.set(r.lease!.replica.endpoint.id, (per.get(r.lease!.replica.endpoint.id) ?? 0) + 1);
    expect([...per.values()]).toEqual([4, 4, 4]);
    expect(s.activator.replicas(KEY).map((r) => r.inflight)).toEqual([4, 4, 4]);
    expect(await metricValue(s, 'sluice_replica_inflight', { replica: `${KEY}#2` })).toBe(4);
    const extra = acquire(s);
    await flush();
    expect(extra.lease).toBeNull();
    reqs[5]!.lease!.release();
    await extra.done;
    expect(extra.lease!.replica.endpoint.id).toBe(reqs[5]!.lease!.replica.endpoint.id);
  });

  it('caps a backlog per replica at the soft capacity when capacity is unbounded', async () => {
    const s = setup();
    s.activator.addRevision(KEY, LABELS, { softCapacity: 3 });
    const reqs = Array.from({ length: 7 }, () => acquire(s));
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 0) });
    await flush();
    expect(reqs.filter((r) => r.lease).length).toBe(3);
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(2, 0) });
    await flush();
    expect(reqs.filter((r) => r.lease).length).toBe(6);
    expect(s.activator.replicas(KEY).map((r) => r.inflight)).toEqual([3, 3]);
  });

  it('sends a draining replica nothing new; in-flight requests still release', async () => {
    const s = setup();
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 4) });
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(2, 4) });
    const first = acquire(s);
    await first.done;
    const draining = first.lease!.replica.endpoint;
    s.activator.onEndpointEvent({ type: 'draining', endpoint: draining });
    const next = Array.from({ length: 4 }, () => acquire(s));
    await Promise.all(next.map((n) => n.done));
    expect(next.every((n) => n.lease!.replica.endpoint.id !== draining.id)).toBe(true);
    first.lease!.release();
    s.activator.onEndpointEvent({ type: 'removed', endpoint: draining, reason: 'scaled down' });
    expect(s.activator.replicas(KEY).map((r) => r.id)).toEqual([next[0]!.lease!.replica.endpoint.id]);
    s.activator.onEndpointEvent({ type: 'ready', endpoint: draining });
    expect(s.activator.replicas(KEY)).toHaveLength(2);
  });
});

describe('Activator readiness probes', () => {
  it('confirms a new replica with its own probe before sending it traffic', async () => {
    const s = setup({ confirmNewReplicas: true });
    s.probeOk.set(`${KEY}#1`, false);
    const a = acquire(s);
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 4) });
    s.clock.advance(0);
    await flush();
    expect(a.lease).toBeNull();
    expect(s.activator.replicas(KEY)[0]!.state).toBe('probing');
    s.clock.advance(100);
    await flush();
    expect(s.probes).toEqual([`${KEY}#1`, `${KEY}#1`]);
    s.probeOk.set(`${KEY}#1`, true);
    s.clock.advance(100);
    await a.done;
    expect(a.lease?.replica.endpoint.id).toBe(`${KEY}#1`);
    expect(a.lease?.coldStart).toBe(true);
  });

  it('takes a replica that fails health probes out of rotation, re-probes it, and brings it back', async () => {
    const s = setup({ healthIntervalMs: 500 });
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 4) });
    s.probeOk.set(`${KEY}#1`, false);
    s.clock.advance(500);
    await flush();
    expect(s.activator.replicas(KEY)[0]!.state).toBe('active'); // one failure is not enough
    s.clock.advance(500);
    await flush();
    expect(s.activator.replicas(KEY)[0]!.state).toBe('failed');
    const held = acquire(s);
    await flush();
    expect(held.lease).toBeNull();
    s.probeOk.set(`${KEY}#1`, true);
    s.clock.advance(100);
    await held.done;
    expect(s.activator.replicas(KEY)[0]!.state).toBe('active');
    expect(held.lease?.replica.endpoint.id).toBe(`${KEY}#1`);
  });

  it('a request that waited for an ejected replica to come back is not a cold start; one that waited for a new replica is', async () => {
    const s = setup();
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 4) });
    s.probeOk.set(`${KEY}#1`, false);
    s.activator.reportFailure(KEY, `${KEY}#1`);
    const back = acquire(s);
    await flush();
    expect(back.lease).toBeNull();
    s.probeOk.set(`${KEY}#1`, true);
    s.clock.advance(100);
    await back.done;
    expect(back.lease).toMatchObject({ coldStart: false, heldMs: 100 });
    back.lease!.release();
    // Ejected again; this time a new replica starts while the request waits, and serves it.
    s.probeOk.set(`${KEY}#1`, false);
    s.activator.reportFailure(KEY, `${KEY}#1`);
    const fresh = acquire(s);
    await flush();
    s.clock.advance(50);
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(2, 4) });
    await fresh.done;
    expect(fresh.lease).toMatchObject({ coldStart: true, heldMs: 50 });
    expect(fresh.lease!.replica.endpoint.id).toBe(`${KEY}#2`);
  });

  it('takes a replica out after a failed connection and re-probes it every interval', async () => {
    const s = setup();
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 4) });
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(2, 4) });
    s.probeOk.set(`${KEY}#1`, false);
    s.activator.reportFailure(KEY, `${KEY}#1`);
    const leases = Array.from({ length: 4 }, () => acquire(s));
    await Promise.all(leases.map((l) => l.done));
    expect(leases.every((l) => l.lease!.replica.endpoint.id === `${KEY}#2`)).toBe(true);
    for (let i = 0; i < 3; i++) {
      s.clock.advance(100);
      await flush();
    }
    expect(s.probes.filter((p) => p === `${KEY}#1`).length).toBe(3);
    expect(s.activator.activeReplicas(KEY)).toBe(1);
    s.probeOk.set(`${KEY}#1`, true);
    s.clock.advance(100);
    await flush();
    expect(s.activator.activeReplicas(KEY)).toBe(2);
  });
});

describe('Activator path mode', () => {
  it('stays in the path at zero, leaves when spare burst capacity is ≥ 0, and returns while requests wait', async () => {
    const s = setup();
    const inPath = () => metricValue(s, 'sluice_activator_in_path', LABELS);
    expect(s.activator.inPath(KEY)).toBe(true);
    expect(await inPath()).toBe(1);
    s.activator.setExcessBurstCapacity(KEY, 5);
    expect(s.activator.inPath(KEY)).toBe(true); // no replica yet
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 1) });
    expect(s.activator.inPath(KEY)).toBe(false);
    expect(await inPath()).toBe(0);
    const a = acquire(s);
    await a.done;
    expect(a.lease?.viaActivator).toBe(false);
    const b = acquire(s);
    expect(s.activator.inPath(KEY)).toBe(true); // b is held
    a.lease!.release();
    await b.done;
    expect(b.lease?.viaActivator).toBe(true);
    expect(s.activator.inPath(KEY)).toBe(false);
    s.activator.setExcessBurstCapacity(KEY, -3);
    expect(await inPath()).toBe(1);
  });

  it('reads the excess burst capacity on a timer', async () => {
    const s = setup();
    s.activator.onEndpointEvent({ type: 'ready', endpoint: endpoint(1, 0) });
    let excess = -1;
    s.activator.startPathUpdates(() => excess, 250);
    s.clock.advance(250);
    expect(s.activator.inPath(KEY)).toBe(true);
    excess = 10;
    s.clock.advance(250);
    expect(s.activator.inPath(KEY)).toBe(false);
    s.activator.close();
    excess = -1;
    s.clock.advance(1000);
    expect(s.activator.inPath(KEY)).toBe(false);
  });
});
