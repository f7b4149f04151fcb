import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../test/support/redis-server.js';
import { waitUntil } from '../test/support/wait.js';
import { RedisStore } from './redis-store.js';

describe('RedisStore (against a real redis-server)', () => {
  let redis: { url: string; stop: () => Promise<void> };
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('sums buckets from several instances and reads a window back', async () => {
    const a = new RedisStore({ url: redis.url, prefix: 't1' });
    const b = new RedisStore({ url: redis.url, prefix: 't1' });
    try {
      await a.addBuckets('ns/r', 'a', [
        { second: 100, concurrency: 1.5, requests: 2 },
        { second: 101, concurrency: 1, requests: 0 },
      ]);
      await b.addBuckets('ns/r', 'b', [{ second: 100, concurrency: 0.5, requests: 1 }]);
      expect(await a.readBuckets('ns/r', 90, 102)).toEqual([
        { second: 100, concurrency: 2, requests: 3 },
        { second: 101, concurrency: 1, requests: 0 },
      ]);
      expect(await a.readBuckets('ns/r', 101, 102)).toEqual([{ second: 101, concurrency: 1, requests: 0 }]);
      await a.forget('ns/r');
      expect(await b.readBuckets('ns/r', 90, 102)).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('delivers one poke, sent right after onPoke(), from one instance to another', async () => {
    const gateway = new RedisStore({ url: redis.url, prefix: 't2' });
    const autoscaler = new RedisStore({ url: redis.url, prefix: 't2' });
    const got: string[] = [];
    try {
      await autoscaler.pokesReady();
      await gateway.readBuckets('ns/rev-1', 0, 1); // the gateway's connection is up: its publish goes out at once
      autoscaler.onPoke((k) => got.push(k));
      // One poke, sent once, right after the listener is added: no retry that would hide a lost message.
      await gateway.poke('ns/rev-1');
      await waitUntil('the poke to arrive', () => got.length > 0, 5_000);
      expect(got).toEqual(['ns/rev-1']);
    } finally {
      await gateway.close();
      await autoscaler.close();
    }
  });

  it('with Redis down, operations fail within seconds naming the store and the operation; it recovers when Redis returns', async () => {
    const own = await startRedis();
    const errors: Error[] = [];
    const store = new RedisStore({ url: own.url, prefix: 't3', onConnectionError: (e) => errors.push(e) });
    const other = new RedisStore({ url: own.url, prefix: 't3' });
    const got: string[] = [];
    store.onPoke((k) => got.push(k));
    let back: Awaited<ReturnType<typeof startRedis>> | null = null;
    try {
      await store.pokesReady();
      await own.stop();
      const bucket = [{ second: 1, concurrency: 1, requests: 1 }];
      const address = new URL(own.url).host;
      for (const [what, run] of [
        ['addBuckets', () => store.addBuckets('ns/r', 'gw', bucket)],
        ['readBuckets', () => store.readBuckets('ns/r', 0, 5)],
        ['poke', () => store.poke('ns/r')],
      ] as const) {
        const t0 = Date.now();
        await expect(run()).rejects.toThrow(`redis store at ${address}: ${what} failed:`);
        expect(Date.now() - t0).toBeLessThan(10_000); // fails, never hangs
      }
      await expect(store.pokesReady(200)).rejects.toThrow(`redis store at ${address}: not subscribed to pokes within 200 ms`);
      expect(errors.length).toBeGreaterThan(0); // connection errors reach the hook, not stderr

      back = await startRedis(own.port);
      // Both connections come back by themselves; the subscription is made again.
      await store.pokesReady();
      await waitUntil('writes to work again', async () => store.addBuckets('ns/r', 'gw', bucket).then(() => true, () => false), 10_000, 100);
      expect(await store.readBuckets('ns/r', 0, 5)).toEqual([{ second: 1, concurrency: 1, requests: 1 }]);
      await waitUntil('the other instance to reconnect', async () => other.readBuckets('ns/r', 0, 5).then(() => true, () => false), 10_000, 100);
      await other.poke('ns/back');
      await waitUntil('a poke after the outage', () => got.length > 0, 5_000);
      expect(got).toEqual(['ns/back']);
    } finally {
      await store.close();
      await other.close();
      await back?.stop();
      await own.stop();
    }
  });
});
