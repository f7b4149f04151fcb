import { describe, expect, it } from 'vitest';
import { FakeClock } from '../core/clock.js';
import { MemoryStore } from '../core/store.js';
import { Collector } from './collector.js';

describe('Collector', () => {
  it('integrates in-flight over time into 1-second buckets', async () => {
    const clock = new FakeClock(10_000);
    const store = new MemoryStore();
    const c = new Collector({ clock, store, instance: 'a', flushIntervalMs: 0 });
    c.begin('ns/r'); // t=10.0
    clock.advance(500);
    c.begin('ns/r'); // t=10.5, 2 in flight
    clock.advance(1000); // t=11.5
    c.end('ns/r');
    c.end('ns/r'); // 0 in flight from 11.5
    clock.advance(1500); // t=13.0
    await c.flush();
    const b = await store.readBuckets('ns/r', 0, 100);
    // second 10: 1 for 0.5 s + 2 for 0.5 s = 1.5; second 11: 2 for 0.5 s = 1.0; second 12: nothing
    expect(b).toEqual([
      { second: 10, concurrency: 1.5, requests: 2 },
      { second: 11, concurrency: 1, requests: 0 },
    ]);
  });

  it('calls onBusy when a revision goes from none in flight to one, not for the requests that join it', () => {
    const busy: string[] = [];
    const c = new Collector({ clock: new FakeClock(0), store: new MemoryStore(), instance: 'a', flushIntervalMs: 0, onBusy: (k) => busy.push(k) });
    c.begin('ns/r');
    c.begin('ns/r');
    c.begin('ns/other');
    expect(busy).toEqual(['ns/r', 'ns/other']);
    c.end('ns/r');
    c.begin('ns/r'); // one still in flight: not a new start
    expect(busy).toEqual(['ns/r', 'ns/other']);
    c.end('ns/r');
    c.end('ns/r');
    c.begin('ns/r');
    expect(busy).toEqual(['ns/r', 'ns/other', 'ns/r']);
  });

  it('sums buckets from several instances, counting each request once per instance', async () => {
    const clock = new FakeClock(0);
    const store = new MemoryStore();
    const a = new Collector({ clock, store, instance: 'a', flushIntervalMs: 0 });
    const b = new Collector({ clock, store, instance: 'b', flushIntervalMs: 0 });
    a.begin('r');
    b.begin('r');
    b.begin('r');
    clock.advance(2000);
    await a.flush();
    await b.flush();
    expect(await store.readBuckets('r', 0, 2)).toEqual([
      { second: 0, concurrency: 3, requests: 3 },
      { second: 1, concurrency: 3, requests: 0 },
    ]);
  });

  it('keeps a long request in every second it spans', async () => {
    const clock = new FakeClock(0);
    const store = new MemoryStore();
    const c = new Collector({ clock, store, instance: 'a', flushIntervalMs: 0 });
    c.begin('r');
    clock.advance(5250);
    await c.flush();
    const b = await store.readBuckets('r', 0, 10);
    expect(b.map((x) => x.concurrency)).toEqual([1, 1, 1, 1, 1]);
    expect(c.inflight('r')).toBe(1);
  });
});
