import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../test/support/redis-server.js';
import { waitUntil } from '../test/support/wait.js';
import { FakeClock } from './clock.js';
import { RedisMembership } from './redis-membership.js';

/**
 * Against a real redis-server. Leases are judged on the injected clock (FakeClock): a gateway whose clock is
 * never advanced never heartbeats again, which is what a SIGKILLed one looks like to the others.
 */
describe('RedisMembership (against a real redis-server)', () => {
  let redis: { url: string; port: number; stop: () => Promise<void> };
  let prefix = 0;
  const started: RedisMembership[] = [];
  const member = async (self: string, clock: FakeClock, p: string, leaseMs = 3000): Promise<RedisMembership> => {
    const m = new RedisMembership({ url: redis.url, self, clock, prefix: p, leaseMs, heartbeatMs: 1000 });
    started.push(m);
    await m.start();
    return m;
  };
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const m of started) await m.close();
    await redis?.stop();
  });

  it('lists the live gateways sorted, the same on each, and tells a member when another joins', async () => {
    const p = `m${prefix++}`;
    const clock = new FakeClock(1_000_000);
    const b = await member('gw-b', clock, p);
    expect(b.members()).toEqual(['gw-b']);
    let changes = 0;
    b.subscribe(() => changes++);
    const a = await member('gw-a', clock, p);
    expect(a.members()).toEqual(['gw-a', 'gw-b']);
    // No clock advance: B hears of A through the published change, not its next heartbeat.
    await waitUntil('B to see A', () => b.members().length === 2, 5_000, 10);
    expect(b.members()).toEqual(['gw-a', 'gw-b']);
    expect(changes).toBe(1);
  });

  it('close() leaves at once: the others drop it without waiting for its lease', async () => {
    const p = `m${prefix++}`;
    const clock = new FakeClock(1_000_000);
    const a = await member('gw-a', clock, p);
    const b = await member('gw-b', clock, p);
    await waitUntil('A to see B', () => a.members().length === 2, 5_000, 10);
    await b.close();
    await waitUntil('A to drop B', () => a.members().length === 1, 5_000, 10);
    expect(a.members()).toEqual(['gw-a']);
  });

  it('a gateway that stops heartbeating drops out within lease + heartbeat, and not before its lease', async () => {
    const p = `m${prefix++}`;
    const clock = new FakeClock(1_000_000);
    const deadClock = new FakeClock(1_000_000); // never advanced: its heartbeats stop after the first
    const a = await member('gw-a', clock, p);
    await member('gw-dead', deadClock, p);
    await waitUntil('A to see the other', () => a.members().length === 2, 5_000, 10);
    // Just before the lease runs out (3 s), A's heartbeats still find it.
    clock.advance(2999);
    await a.heartbeat();
    expect(a.members()).toEqual(['gw-a', 'gw-dead']);
    // By lease + one heartbeat period, A's heartbeat has pruned it.
    clock.advance(1001);
    await a.heartbeat();
    expect(a.members()).toEqual(['gw-a']);
  });

  it('publishes each gateway\'s record to the others, and a gateway that leaves takes its record with it', async () => {
    const p = `m${prefix++}`;
    const clock = new FakeClock(1_000_000);
    const a = await member('gw-a', clock, p);
    const b = await member('gw-b', clock, p);
    await waitUntil('A to see B', () => a.members().length === 2, 5_000, 10);
    let told = 0;
    a.subscribe(() => told++);
    b.publish({ 'settled:ns/r': 'v1', seq: '1' });
    b.publish({ 'settled:ns/r': 'v2', seq: '2' }); // coalesced: the latest wins
    await waitUntil('A to see B\'s latest record', () => a.states()?.get('gw-b')?.seq === '2', 5_000, 10);
    expect(a.states()?.get('gw-b')).toEqual({ 'settled:ns/r': 'v2', seq: '2' });
    expect(told).toBeGreaterThanOrEqual(1);
    // Its own record is not on its own board (the Activator keeps its own).
    expect(b.states()?.has('gw-b')).toBe(false);
    await b.close();
    await waitUntil('A to drop B and its record', () => a.members().length === 1, 5_000, 10);
    expect(a.states()?.size).toBe(0);
  });

  it('a gateway whose lease runs out while its record says requests are in flight is departed for those revisions until they end', async () => {
    const p = `m${prefix++}`;
    const clock = new FakeClock(1_000_000);
    const deadClock = new FakeClock(1_000_000); // never advanced: it never heartbeats again
    const a = await member('gw-a', clock, p);
    const dead = await member('gw-dead', deadClock, p);
    expect(dead.departsByRecord).toBe(true);
    // Requests for ns/r1 (each ends within 5 s) in flight; none for ns/r2.
    dead.publish({ 's:ns/r1': 'v1', 'f:ns/r1': '5000', 's:ns/r2': 'v1' });
    await waitUntil('A to see its record', () => a.states()?.get('gw-dead')?.['f:ns/r1'] === '5000', 5_000, 10);
    expect(a.departed().size).toBe(0); // a live member is not departed
    // Its lease (3 s) is over: no longer a member, but departed for ns/r1 with its record still on the board.
    clock.advance(3001);
    await a.heartbeat();
    expect(a.members()).toEqual(['gw-a']);
    expect([...a.departed()].map(([id, keys]) => [id, [...keys]])).toEqual([['gw-dead', ['ns/r1']]]);
    expect(a.states()?.get('gw-dead')?.['s:ns/r1']).toBe('v1');
    // A gateway that joins now sees the same.
    const c = await member('gw-c', clock, p);
    expect([...c.departed().keys()]).toEqual(['gw-dead']);
    // Until its lease's end plus 5 s (1,008,000 on its clock): then it and its record are gone.
    clock.advance(1_007_999 - clock.now());
    await a.heartbeat();
    expect([...a.departed().keys()]).toEqual(['gw-dead']);
    clock.advance(2);
    await a.heartbeat();
    expect(a.departed().size).toBe(0);
    expect(a.states()?.has('gw-dead')).toBe(false);
    await c.heartbeat();
    expect(c.departed().size).toBe(0);
    expect(c.states()?.has('gw-dead')).toBe(false);
  });

  it('a gateway whose record says nothing is in flight (any more), or that leaves cleanly, is not departed', async () => {
    const p = `m${prefix++}`;
    const clock = new FakeClock(1_000_000);
    const idleClock = new FakeClock(1_000_000);
    const a = await member('gw-a', clock, p);
    const idle = await member('gw-idle', idleClock, p);
    const leaver = await member('gw-leaver', clock, p);
    idle.publish({ 's:ns/r1': 'v1', 'f:ns/r1': '5000' });
    idle.publish({ 's:ns/r1': 'v1' }); // its requests ended
    leaver.publish({ 's:ns/r1': 'v1', 'f:ns/r1': '5000' });
    await waitUntil('A to see both records', () => a.states()?.get('gw-idle')?.['f:ns/r1'] === undefined && a.states()?.get('gw-leaver')?.['f:ns/r1'] === '5000', 5_000, 10);
    await leaver.close();
    await waitUntil('A to drop the leaver', () => a.members().length === 2, 5_000, 10);
    expect(a.departed().size).toBe(0);
    expect(a.states()?.has('gw-leaver')).toBe(false);
    clock.advance(3001);
    await a.heartbeat();
    expect(a.members()).toEqual(['gw-a']);
    expect(a.departed().size).toBe(0);
    expect(a.states()?.has('gw-idle')).toBe(false);
  });

  it('refuses a record over the size limit, naming it', async () => {
    const a = new RedisMembership({ url: redis.url, self: 'x', clock: new FakeClock() });
    expect(() => a.publish({ k: 'x'.repeat(270_000) })).toThrow(/a record of 270008 characters is over the limit of 262144/);
    await a.close();
  });

  it('the default lease is 10 s with a heartbeat every 3.3 s', () => {
    const m = new RedisMembership({ url: redis.url, self: 'x', clock: new FakeClock() });
    expect(m.lease).toEqual({ leaseMs: 10_000, heartbeatMs: 3333 });
    void m.close();
  });

  it('refuses a heartbeat period not below the lease, naming both', () => {
    expect(() => new RedisMembership({ url: redis.url, self: 'x', clock: new FakeClock(), leaseMs: 1000, heartbeatMs: 1000 })).toThrow(
      /heartbeatMs must be above 0 and below leaseMs 1000 \(got 1000\)/,
    );
  });

  it('Redis down: keeps the last known gateways and says so; Redis back empty: everyone registers again', async () => {
    const own = await startRedis();
    const clock = new FakeClock(1_000_000);
    const states: boolean[] = [];
    const mk = (self: string): RedisMembership =>
      new RedisMembership({ url: own.url, self, clock, prefix: 'down', leaseMs: 3000, heartbeatMs: 1000, onRedisState: (up) => states.push(up) });
    const a = mk('gw-a');
    const b = mk('gw-b');
    try {
      await a.start();
      await b.start();
      b.publish({ settled: 'v1' });
      await waitUntil('A to see B\'s record', () => a.states()?.get('gw-b')?.settled === 'v1', 5_000, 10);
      await waitUntil('both to see both', () => a.members().length === 2 && b.members().length === 2, 5_000, 10);
      await own.stop();
      // Well past the lease: with Redis gone nobody can be judged dead, so the list stays as it was.
      clock.advance(5000);
      await a.heartbeat();
      await b.heartbeat();
      expect(a.connected).toBe(false);
      expect(a.members()).toEqual(['gw-a', 'gw-b']);
      // No board while Redis is gone: the Activator then applies share changes at once.
      expect(a.states()).toBeUndefined();
      expect(b.members()).toEqual(['gw-a', 'gw-b']);
      // A new, empty Redis on the same address (no persistence): one heartbeat each refills it.
      const back = await startRedis(own.port);
      try {
        // A finds Redis first; B has not registered again yet. A must not think it is alone (it would take every
        // slot): B keeps a lease from the moment Redis came back.
        await waitUntil('A to reach Redis again', async () => (await a.heartbeat(), a.connected === true), 15_000, 100);
        expect(a.members()).toEqual(['gw-a', 'gw-b']);
        await waitUntil(
          'both to register again',
          async () => {
            clock.advance(1000);
            await Promise.all([a.heartbeat(), b.heartbeat()]);
            return a.connected === true && b.connected === true && a.members().length === 2 && b.members().length === 2;
          },
          15_000,
          100,
        );
        expect(a.members()).toEqual(['gw-a', 'gw-b']);
        // B's record is back on A's board: B's heartbeat wrote it into the empty Redis.
        await waitUntil('B\'s record again', async () => {
          clock.advance(1000);
          await Promise.all([a.heartbeat(), b.heartbeat()]);
          return a.states()?.get('gw-b')?.settled === 'v1';
        }, 10_000, 100);
        expect(states).toEqual([true, true, false, false, true, true]);
      } finally {
        await a.close();
        await b.close();
        await back.stop();
      }
    } finally {
      await a.close();
      await b.close();
      await own.stop();
    }
  }, 30_000);
});
