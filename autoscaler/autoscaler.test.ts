import { describe, expect, it } from 'vitest';
import { FakeClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import { SluiceMetrics } from '../core/metrics.js';
import { MemoryStore } from '../core/store.js';
import { Autoscaler } from './autoscaler.js';
import { Collector } from './collector.js';
import { GpuAllocator } from './policies/gpu.js';
import { FakeBackend } from './testing/fake-backend.js';
import { testRevision } from './testing/revision.js';
import type { Revision } from '../api/revision.js';
import type { ReplicaUsage, ResourceUsageSource } from './policies/resource.js';
import { metricValue } from '../test/support/metrics-text.js';

const KEY = 'default/model-predictor-00001';

/** The embedded loop on a fake clock: collector → memory store → autoscaler → fake backend. */
function harness(opts: { startupMs?: number; gpus?: GpuAllocator; start?: number; usage?: ResourceUsageSource } = {}) {
  const clock = new FakeClock(opts.start ?? 1_000_000);
  const store = new MemoryStore();
  const backend = new FakeBackend({ clock, startupMs: opts.startupMs ?? 5_000, ...(opts.gpus ? { gpus: opts.gpus } : {}) });
  const metrics = new SluiceMetrics();
  const collector = new Collector({ clock, store, instance: 'gw', flushIntervalMs: 1000 });
  const waiting = (key: string) => (backend.counts(key).ready === 0 ? collector.inflight(key) : 0);
  const make = () =>
    new Autoscaler({
      clock,
      store,
      backend,
      metrics,
      logger: silentLogger(),
      waiting,
      inflightNow: (k) => collector.inflight(k),
      ...(opts.gpus ? { gpuInventory: opts.gpus } : {}),
      ...(opts.usage ? { usage: opts.usage } : {}),
    });
  /** Moves time in 1 s steps, letting the async ticks settle after each. */
  async function advance(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= 1000) {
      clock.advance(Math.min(1000, left));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
  }
  /** Sends `n` requests that stay in flight until `release` is called. */
  function hold(key: string, n: number): () => void {
    for (let i = 0; i < n; i++) collector.begin(key);
    return () => {
      for (let i = 0; i < n; i++) collector.end(key);
    };
  }
  return { clock, store, backend, metrics, collector, make, advance, hold };
}

async function setup(h: ReturnType<typeof harness>, rev: Revision) {
  await h.backend.apply(rev);
  const a = h.make();
  a.start();
  await a.register(rev);
  return a;
}

describe('Autoscaler loop', () => {
  it('does not learn the time a replica waited for the backend\'s budget as start-up time', async () => {
    // Asked at t0, pending for the budget for 30 s, then 5 s to ready: the learned start-up is about 5 s, not 35.
    const h = harness({ startupMs: 35_000 });
    const t0 = h.clock.now();
    h.backend.admission = (key) => ({ pending: key === KEY && h.clock.now() < t0 + 30_000 ? 1 : 0, condition: null });
    const a = await setup(h, testRevision({ autoscaling: { initialScale: 0 } }));
    const release = h.hold(KEY, 1);
    await h.store.poke(KEY);
    await h.advance(40_000);
    release();
    expect(h.backend.counts(KEY).ready).toBe(1);
    // The last tick that saw it pending was at t0 + 28 s (ticks every 2 s): 35 − 28 = 7 s.
    expect(a.status(KEY)!.startupSeconds).toBe(7);
    a.stop();
  });

  it('wakes from zero at once on a poke, reaches 4 replicas for a load needing 4, holds them, and returns to zero', async () => {
    const h = harness();
    const a = await setup(h, testRevision({ autoscaling: { initialScale: 0 } }));
    expect(h.backend.counts(KEY).desired).toBe(0);

    // 25 requests in flight, target 10 × 70 % = 7 per replica → ceil(25 / 7) = 4.
    const release = h.hold(KEY, 25);
    await h.store.poke(KEY);
    await h.advance(0);
    expect(h.backend.scaleCalls.at(-1)).toMatchObject({ at: 1_000_000, replicas: 1 });

    await h.advance(10_000);
    expect(h.backend.counts(KEY)).toEqual({ desired: 4, starting: 0, ready: 4 });
    expect(a.status(KEY)!.startupSeconds).toBe(5);

    // Two stable windows of steady load: no scale event at all.
    const calls = h.backend.scaleCalls.length;
    await h.advance(120_000);
    expect(h.backend.scaleCalls.length).toBe(calls);
    expect(a.status(KEY)).toMatchObject({ desiredReplicas: 4, readyReplicas: 4, lastDecision: { panic: false, reason: 'stable' } });

    // Load stops: the stable window drains (60 s), the grace period passes (30 s), the revision goes to zero.
    release();
    await h.advance(85_000);
    expect(h.backend.counts(KEY).desired).toBeGreaterThan(0);
    await h.advance(15_000);
    expect(h.backend.counts(KEY).desired).toBe(0);
    const events = a.status(KEY)!.events;
    expect(events[0]).toMatchObject({ from: 0, to: 1, reason: 'poke' });
    expect(events[1]).toMatchObject({ from: 1, to: 4, reason: 'panic', panic: true });
    expect(events.at(-1)).toMatchObject({ to: 0, reason: 'scale-to-zero' });
    expect(events.every((e, i) => i < 2 || e.to < e.from)).toBe(true);
    const text = await h.metrics.registry.metrics();
    expect(metricValue(text, 'sluice_scale_events_total', { direction: 'up', reason: 'poke' })).toBe(1);
    a.stop();
  });

  it('keeps a replica woken from zero for the stable window plus the grace period after its last request', async () => {
    // The reported log: `0->1 poke` at .468, ready at .586, `1->0 scale-to-zero` at the tick at .596 — before the
    // request's bucket reached the window. Ticks (every 2 s) and collector flushes fall at .596 of a second here.
    const h = harness({ start: 1_000_596, startupMs: 118 });
    const a = await setup(h, testRevision({ autoscaling: { initialScale: 0 } }));
    // At zero for two stable windows: the decider has recommended zero since its first tick.
    await h.advance(120_000);
    expect(h.backend.counts(KEY).desired).toBe(0);
    await h.advance(1_872); // 1 122.468 s, 128 ms before the tick at 1 122.596 s
    const release = h.hold(KEY, 1);
    await h.store.poke(KEY);
    await h.advance(0);
    expect(h.backend.scaleCalls.at(-1)).toEqual({ at: 1_122_468, key: KEY, replicas: 1 });
    await h.advance(118);
    expect(h.backend.counts(KEY).ready).toBe(1);
    await h.advance(4);
    release(); // served in 4 ms
    const lastRequest = h.clock.now();
    const since = h.backend.scaleCalls.length - 1;
    await h.advance(6); // the tick at 1 122.596 s; the request's second is not in any window yet
    // 60 s stable window + 30 s grace after the last request (to the tick at 1 212.596 s): no scale-down at all.
    await h.advance(90_000);
    expect(h.clock.now() - lastRequest).toBeGreaterThan(90_000);
    expect(h.backend.scaleCalls.slice(since).map((c) => [c.at, c.replicas])).toEqual([[1_122_468, 1]]);
    expect(h.backend.counts(KEY)).toEqual({ desired: 1, starting: 0, ready: 1 });
    // Then it goes: the request's second (1 122) leaves the 60 s window at 1 183 s, the first tick after it
    // (1 184.596 s) starts the 30 s grace, and the tick at 1 214.596 s scales to zero.
    await h.advance(2_000);
    expect(h.backend.scaleCalls.slice(since).map((c) => [c.at, c.replicas])).toEqual([
      [1_122_468, 1],
      [1_214_596, 0],
    ]);
    expect(a.status(KEY)!.events.map((e) => [e.from, e.to, e.reason])).toEqual([
      [0, 1, 'poke'],
      [1, 0, 'scale-to-zero'],
    ]);
    a.stop();
  });

  it('updates the ready-replicas gauge when a replica becomes ready, not at the next decision', async () => {
    const h = harness();
    const a = await setup(h, testRevision({ autoscaling: { initialScale: 0 } }));
    const ready = async () => metricValue(await h.metrics.registry.metrics(), 'sluice_ready_replicas', { revision: 'model-predictor-00001' });
    const release = h.hold(KEY, 1);
    await h.store.poke(KEY);
    // Decisions run every 2 s (at +2 s and +4 s here); the replica is ready at +5 s, between two decisions.
    await h.advance(4_900);
    expect(await ready()).toBe(0);
    await h.advance(100);
    expect(h.backend.counts(KEY).ready).toBe(1);
    expect(await ready()).toBe(1);
    release();
    a.stop();
  });

  it('a restarted autoscaler that finds 3 running replicas does not scale them down before a full window', async () => {
    const h = harness();
    const rev = testRevision();
    await h.backend.apply(rev);
    h.backend.preload(KEY, 3, 10);
    const a = h.make();
    a.start();
    await a.register(rev);
    expect(h.backend.counts(KEY).desired).toBe(3);
    await h.advance(58_000);
    expect(h.backend.scaleCalls.filter((c) => c.replicas < 3)).toEqual([]);
    expect(a.status(KEY)!.lastDecision?.reason).toBe('warming-up');
    await h.advance(4_000);
    expect(h.backend.counts(KEY).desired).toBeLessThan(3);
    a.stop();
  });

  it('keeps a bounded event log per revision', async () => {
    const h = harness({ startupMs: 0 });
    const rev = testRevision({ autoscaling: { initialScale: 0 } });
    await h.backend.apply(rev);
    const a = new Autoscaler({
      clock: h.clock,
      store: h.store,
      backend: h.backend,
      metrics: h.metrics,
      logger: silentLogger(),
      eventLogSize: 3,
    });
    await a.register(rev);
    for (let i = 0; i < 5; i++) {
      await a.poke(KEY); // 0 → 1
      (a as unknown as { revisions: Map<string, { desired: number }> }).revisions.get(KEY)!.desired = 0;
    }
    expect(a.status(KEY)!.events).toHaveLength(3);
  });

  it('never gives a GPU revision a third replica with 2 GPUs, and reports why', async () => {
    const gpus = GpuAllocator.uniform('nvidia.com/gpu', 2);
    const h = harness({ gpus, startupMs: 20_000 });
    const a = await setup(h, testRevision({ containerConcurrency: 1, gpus: { 'nvidia.com/gpu': 1 }, autoscaling: { initialScale: 0 } }));
    const release = h.hold(KEY, 12); // wants ceil(12 / 0.7) = 18 replicas
    await h.store.poke(KEY);
    await h.advance(90_000);
    expect(Math.max(...h.backend.scaleCalls.map((c) => c.replicas))).toBe(2);
    expect(h.backend.counts(KEY)).toMatchObject({ ready: 2 });
    const st = a.status(KEY)!;
    expect(st.conditions).toEqual([expect.objectContaining({ type: 'GpuCapacity', status: 'False', reason: 'InsufficientGPU' })]);
    expect(st.conditions[0]!.message).toContain('only 2 fit');
    expect(metricValue(await h.metrics.registry.metrics(), 'sluice_gpu_capacity_limited', { revision: 'model-predictor-00001' })).toBe(1);
    release();
    a.stop();
  });

  it('holds a poke for a GPU revision when another revision has every GPU, and says why', async () => {
    const gpus = GpuAllocator.uniform('nvidia.com/gpu', 1);
    gpus.allocate('default/other-predictor-00001', 'default/other-predictor-00001#1', { 'nvidia.com/gpu': 1 });
    const h = harness({ gpus });
    const a = await setup(h, testRevision({ gpus: { 'nvidia.com/gpu': 1 }, autoscaling: { initialScale: 0 } }));
    h.hold(KEY, 1);
    await h.store.poke(KEY);
    await h.advance(4_000);
    expect(h.backend.counts(KEY).desired).toBe(0);
    expect(a.status(KEY)!.conditions[0]).toMatchObject({ status: 'False', reason: 'InsufficientGPU' });
    expect(a.status(KEY)!.conditions[0]!.message).toContain('0 of 1 available');
    a.stop();
  });

  it('keeps a GPU revision warm for the 10-minute default retention', async () => {
    const gpus = GpuAllocator.uniform('nvidia.com/gpu', 1);
    const h = harness({ gpus, startupMs: 1_000 });
    const a = await setup(h, testRevision({ gpus: { 'nvidia.com/gpu': 1 } }));
    const release = h.hold(KEY, 1);
    await h.advance(5_000);
    release();
    // stable window drains in 60 s; a CPU revision would be gone after ~90 s, a GPU one stays ~60 + 600 s.
    await h.advance(600_000);
    expect(h.backend.counts(KEY).desired).toBe(1);
    await h.advance(80_000);
    expect(h.backend.counts(KEY).desired).toBe(0);
    expect(gpus.allocated('nvidia.com/gpu')).toBe(0);
    a.stop();
  });

  it('scales a cpu revision HPA-style from the usage source', async () => {
    let usage: ReplicaUsage[] = [];
    const h = harness({ startupMs: 1_000, usage: { usage: () => usage } });
    const a = await setup(h, testRevision({ autoscaling: { metric: 'cpu', target: 50, minReplicas: 2, maxReplicas: 8 } }));
    await h.advance(3_000);
    expect(h.backend.counts(KEY)).toMatchObject({ desired: 2, ready: 2 });
    usage = [
      { replicaId: 'a', cpuPercent: 100, memoryPercent: 10 },
      { replicaId: 'b', cpuPercent: 100, memoryPercent: 10 },
    ];
    await h.advance(2_000);
    expect(h.backend.counts(KEY).desired).toBe(4); // ceil(2 × 100 / 50)
    expect(a.status(KEY)!.events.at(-1)).toMatchObject({ from: 2, to: 4, reason: 'cpu-above-target' });
    usage = usage.map((u) => ({ ...u, cpuPercent: 5 }));
    await h.advance(60_000);
    expect(h.backend.counts(KEY).desired).toBe(4); // scale-down stabilization (300 s)
    await h.advance(250_000);
    expect(h.backend.counts(KEY).desired).toBe(2); // min 2
    a.stop();
  });

  it('learns idle gaps for adaptive keep-warm and keeps one replica through the usual gap', async () => {
    const h = harness({ startupMs: 1_000 });
    const rev = testRevision({ autoscaling: { initialScale: 0 } });
    await h.backend.apply(rev);
    const a = h.make();
    a.start();
    await a.register(rev, { keepWarm: 'adaptive' });
    // a client that sends one 1-second request every 4 minutes
    const visit = async () => {
      const release = h.hold(KEY, 1);
      await h.store.poke(KEY);
      await h.advance(1_000);
      release();
      await h.advance(239_000);
    };
    for (let i = 0; i < 9; i++) await visit();
    const w = a.status(KEY)!.keepWarm!;
    // Gaps are regular (~240 s, every one in the [230, 240) s bin): unload after the stable window, pre-warm one
    // start-up time before the 5th percentile of gaps (0.9 × 230 s = 207 s), keep until the 99th (+10 %:
    // 1.1 × 240 s = 264 s). The next visit finds a warm replica.
    expect(w.keepAliveSeconds).toBe(264);
    expect(w.prewarmSeconds).toBe(207);
    expect(h.backend.counts(KEY).ready).toBe(1);
    const release = h.hold(KEY, 1);
    await h.advance(1_000);
    release();
    await h.advance(200_000);
    expect(h.backend.counts(KEY).desired).toBe(0);
    expect(a.status(KEY)!.events.at(-1)?.reason).toBe('keep-warm-unload');
    await h.advance(10_000);
    expect(h.backend.counts(KEY).desired).toBe(1);
    expect(a.status(KEY)!.events.at(-1)?.reason).toBe('keep-warm');
    await h.advance(70_000);
    expect(h.backend.counts(KEY).desired).toBe(0);
    expect(a.status(KEY)!.events.at(-1)?.reason).toBe('keep-warm-expired');
    a.stop();
  });
});
