import { describe, expect, it } from 'vitest';
import { FakeClock } from '../core/clock.js';
import { latencyBin } from '../core/latency-sketch.js';
import { MemoryStore, type OutcomeBucket, type Store } from '../core/store.js';
import { FleetOutcomes } from './fleet-outcomes.js';
import { OutcomeFlusher } from '../gateway/shared-outcomes.js';

describe('OutcomeFlusher (a gateway) and FleetOutcomes (the controller)', () => {
  it('two gateways flush per second, not per request, and the controller reads their sum', async () => {
    const clock = new FakeClock(1_000_000);
    const store = new MemoryStore();
    let writes = 0;
    const counting: Store = Object.assign(Object.create(store) as Store, {
      addOutcomes: (k: string, b: readonly OutcomeBucket[]) => {
        writes++;
        return store.addOutcomes(k, b);
      },
    });
    const a = new OutcomeFlusher({ clock, store: counting, flushIntervalMs: 0 });
    const b = new OutcomeFlusher({ clock, store: counting, flushIntervalMs: 0 });
    const fleet = new FleetOutcomes({ clock, store, sealSeconds: 2 });
    const since = clock.now();
    // 3 s of traffic: gateway a answers 100 requests a second in 10 ms, b 50 a second with 5 errors, in 20 ms;
    // a client that went away (499) is no outcome of the revision.
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < 100; i++) a.record('ns/canary', clock.now() + i, 200, 10, 0);
      for (let i = 0; i < 50; i++) b.record('ns/canary', clock.now() + i, i < 5 ? 503 : 200, 25, 5);
      b.record('ns/canary', clock.now(), 499, 1, 0);
      clock.advance(1000);
      await Promise.all([a.flush(), b.flush()]);
    }
    expect(writes).toBe(6);
    const stats = await fleet.stats('ns/canary', since);
    expect(stats.requests).toBe(450);
    expect(stats.errors).toBe(15);
    // p99 of 300 × 10 ms and 150 × 20 ms (model latency: total minus the cold-start wait) is 20 ms, ±2.5 %.
    expect(stats.p99Ms).toBeGreaterThan(19.5);
    expect(stats.p99Ms).toBeLessThan(20.5);
    // Read again later: sealed seconds come from the running sum, the same answer.
    clock.advance(5000);
    expect(await fleet.stats('ns/canary', since)).toEqual(stats);
    // A later window start leaves earlier seconds out.
    expect(await fleet.stats('ns/canary', since + 2000)).toMatchObject({ requests: 150, errors: 5 });
    expect(await fleet.stats('ns/other', since)).toEqual({ requests: 0, errors: 0, p99Ms: null });
  });

  it('keeps unflushed seconds while the store is down (bounded) and reports what it dropped', async () => {
    const clock = new FakeClock(2_000_000);
    const store = new MemoryStore();
    let down = true;
    const flaky: Store = Object.assign(Object.create(store) as Store, {
      addOutcomes: (k: string, b: readonly OutcomeBucket[]) => (down ? Promise.reject(new Error('redis down')) : store.addOutcomes(k, b)),
    });
    const dropped: Array<[number, string]> = [];
    const g = new OutcomeFlusher({ clock, store: flaky, flushIntervalMs: 0, maxPendingSeconds: 3, onDropped: (n, why) => dropped.push([n, why]) });
    const since = clock.now();
    for (let s = 0; s < 5; s++) {
      g.record('ns/r', clock.now(), 200, 10, 0);
      clock.advance(1000);
      await g.flush();
    }
    down = false;
    await g.flush();
    const fleet = new FleetOutcomes({ clock, store });
    // The 3 newest seconds survived; 2 were dropped and said so once, with the setting that bounds it.
    expect((await fleet.stats('ns/r', since)).requests).toBe(3);
    expect(dropped.reduce((n, [c]) => n + c, 0)).toBe(2);
    expect(dropped[0]![1]).toMatch(/maxPendingSeconds/);
    expect((await store.readOutcomes('ns/r', 0, 1e9)).map((b) => b.latency)).toEqual([[[latencyBin(10), 1]], [[latencyBin(10), 1]], [[latencyBin(10), 1]]]);
  });

  it('bounds the revisions summed at once', async () => {
    const clock = new FakeClock(3_000_000);
    const store = new MemoryStore();
    const dropped: number[] = [];
    const g = new OutcomeFlusher({ clock, store, flushIntervalMs: 0, maxRevisions: 2, onDropped: (n) => dropped.push(n) });
    for (const r of ['ns/a', 'ns/b', 'ns/c', 'ns/c']) g.record(r, clock.now(), 200, 1, 0);
    clock.advance(1000);
    await g.flush();
    expect((await store.readOutcomes('ns/c', 0, 1e9)).length).toBe(0);
    expect((await store.readOutcomes('ns/a', 0, 1e9)).length).toBe(1);
    expect(dropped).toEqual([2]);
  });
});
