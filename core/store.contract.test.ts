/**
 * One contract, two stores: every case runs against MemoryStore (embedded mode) and RedisStore (cluster mode,
 * a real redis-server), so nothing above the Store interface can tell which one runs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../test/support/redis-server.js';
import { waitUntil } from '../test/support/wait.js';
import { RedisStore } from './redis-store.js';
import { MemoryStore, type Store } from './store.js';

let redis: { url: string; stop: () => Promise<void> };
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let prefixes = 0;
const kinds: Array<[string, () => Store]> = [
  ['MemoryStore', () => new MemoryStore()],
  // A fresh prefix per store set: cases never see each other's keys.
  ['RedisStore', () => new RedisStore({ url: redis.url, prefix: `contract-${++prefixes}` })],
];

describe.each(kinds)('Store contract: %s', (_kind, make) => {
  const open: Store[] = [];
  /** Two instances of one fabric (for MemoryStore: the same object, as in embedded mode). */
  const pair = (): [Store, Store] => {
    const a = make();
    open.push(a);
    if (a instanceof MemoryStore) return [a, a];
    const b = new RedisStore({ url: redis.url, prefix: `contract-${prefixes}` });
    open.push(b);
    return [a, b];
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it('sums buckets of one second over instances and reads [from, to) ascending, leaving out empty seconds', async () => {
    const [a, b] = pair();
    await a.addBuckets('ns/r', 'gw-1', [
      { second: 102, concurrency: 1, requests: 1 },
      { second: 100, concurrency: 1.5, requests: 2 },
    ]);
    await b.addBuckets('ns/r', 'gw-2', [{ second: 100, concurrency: 0.5, requests: 1 }]);
    expect(await b.readBuckets('ns/r', 95, 103)).toEqual([
      { second: 100, concurrency: 2, requests: 3 },
      { second: 102, concurrency: 1, requests: 1 },
    ]);
    expect(await a.readBuckets('ns/r', 100, 102)).toEqual([{ second: 100, concurrency: 2, requests: 3 }]);
    expect(await a.readBuckets('ns/r', 101, 102)).toEqual([]);
    expect(await a.readBuckets('ns/other', 95, 103)).toEqual([]);
  });

  it('adds to a second already written, and ignores an empty batch', async () => {
    const [a] = pair();
    await a.addBuckets('ns/r', 'gw-1', [{ second: 10, concurrency: 1, requests: 1 }]);
    await a.addBuckets('ns/r', 'gw-1', [{ second: 10, concurrency: 2, requests: 4 }]);
    await a.addBuckets('ns/r', 'gw-1', []);
    expect(await a.readBuckets('ns/r', 0, 20)).toEqual([{ second: 10, concurrency: 3, requests: 5 }]);
  });

  it('forgets one revision and keeps the others', async () => {
    const [a, b] = pair();
    await a.addBuckets('ns/gone', 'gw-1', [{ second: 10, concurrency: 1, requests: 1 }]);
    await a.addBuckets('ns/kept', 'gw-1', [{ second: 10, concurrency: 1, requests: 1 }]);
    await a.addOutcomes('ns/gone', [{ second: 10, requests: 1, errors: 0, latency: [[3, 1]] }]);
    await a.addOutcomes('ns/kept', [{ second: 10, requests: 1, errors: 0, latency: [[3, 1]] }]);
    await b.forget('ns/gone');
    expect(await a.readBuckets('ns/gone', 0, 20)).toEqual([]);
    expect(await a.readOutcomes('ns/gone', 0, 20)).toEqual([]);
    expect(await a.readBuckets('ns/kept', 0, 20)).toEqual([{ second: 10, concurrency: 1, requests: 1 }]);
    expect(await a.readOutcomes('ns/kept', 0, 20)).toEqual([{ second: 10, requests: 1, errors: 0, latency: [[3, 1]] }]);
  });

  it('sums rollout outcomes of one second over gateways, latency bin by bin, and reads [from, to) ascending', async () => {
    const [a, b] = pair();
    await a.addOutcomes('ns/r', [
      { second: 102, requests: 1, errors: 1, latency: [[0, 1]] },
      { second: 100, requests: 3, errors: 0, latency: [[40, 2], [90, 1]] },
    ]);
    await b.addOutcomes('ns/r', [{ second: 100, requests: 2, errors: 1, latency: [[40, 1], [120, 1]] }]);
    await a.addOutcomes('ns/r', []);
    expect(await b.readOutcomes('ns/r', 95, 103)).toEqual([
      { second: 100, requests: 5, errors: 1, latency: [[40, 3], [90, 1], [120, 1]] },
      { second: 102, requests: 1, errors: 1, latency: [[0, 1]] },
    ]);
    expect(await a.readOutcomes('ns/r', 100, 102)).toEqual([{ second: 100, requests: 5, errors: 1, latency: [[40, 3], [90, 1], [120, 1]] }]);
    expect(await a.readOutcomes('ns/r', 101, 102)).toEqual([]);
    expect(await a.readOutcomes('ns/other', 95, 103)).toEqual([]);
    // Outcomes and metric buckets are apart: neither shows in the other.
    expect(await a.readBuckets('ns/r', 95, 103)).toEqual([]);
  });

  it('delivers each poke once to every listener once pokes are ready, and not after the listener is removed', async () => {
    const [gateway, autoscaler] = pair();
    const first: string[] = [];
    const second: string[] = [];
    const removeFirst = autoscaler.onPoke((k) => first.push(k));
    autoscaler.onPoke((k) => second.push(k));
    await autoscaler.pokesReady();
    await gateway.poke('ns/a');
    await waitUntil('both listeners to get the poke', () => first.length === 1 && second.length === 1, 5_000);
    removeFirst();
    await gateway.poke('ns/b');
    await waitUntil('the remaining listener to get the second poke', () => second.length === 2, 5_000);
    // A third poke as a marker: once it has arrived, the removed listener has had every chance to get 'ns/b'.
    await gateway.poke('ns/c');
    await waitUntil('the marker poke', () => second.length === 3, 5_000);
    expect(first).toEqual(['ns/a']);
    expect(second).toEqual(['ns/a', 'ns/b', 'ns/c']);
  });
});
