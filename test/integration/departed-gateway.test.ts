import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lease } from '../../activator/activator.js';
import { FakeClock } from '../../core/clock.js';
import { RedisMembership } from '../../core/redis-membership.js';
import { oneRevisionActivator, type DepartingGatewayOptions } from '../support/departing-gateway.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { startRedis } from '../support/redis-server.js';
import { waitUntil } from '../support/wait.js';

/**
 * Cluster mode, a gateway SIGKILLed with requests in flight (core/redis-membership.ts, "Departed gateways"). Two
 * gateways split one replica of containerConcurrency 4 through a real Redis: 2 slots each. Gateway A is a real
 * process (test/support/departing-gateway.ts) holding its 2 slots for requests that may run 60 s; it is killed.
 * Gateway B (in this process, on an injected clock that follows real time until the kill) must not take A's 2
 * slots when A's lease runs out, since A's requests may still run on the replica, and must take them once they
 * have ended (A's lease end + 60 s).
 */
const KEY = 'default/slow-predictor-00001';
const LABELS = { namespace: 'default', service: 'slow', revision: 'slow-predictor-00001' };
const ENDPOINT = { id: `${KEY}#1`, url: 'http://127.0.0.1:1', capacity: 4 };
const LEASE_MS = 3000;
const HEARTBEAT_MS = 1000;
const TIMEOUT_MS = 60_000;

describe('a cluster gateway killed with requests in flight', () => {
  let redis: { url: string; port: number; stop: () => Promise<void> };
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('keeps its share out of the others\' until its requests\' deadlines, then hands it on', async () => {
    const clock = new FakeClock(Date.now());
    const follow = setInterval(() => clock.advance(Math.max(0, Date.now() - clock.now())), 20);
    const membership = new RedisMembership({ url: redis.url, self: 'gw-b', clock, prefix: 'dg', leaseMs: LEASE_MS, heartbeatMs: HEARTBEAT_MS });
    await membership.start();
    const activator = oneRevisionActivator({ clock, membership, key: KEY, labels: LABELS, endpoint: ENDPOINT });
    const limit = (): number | undefined => activator.replicas(KEY)[0]?.limit;
    const opts: DepartingGatewayOptions = {
      redisUrl: redis.url,
      prefix: 'dg',
      self: 'gw-a',
      leaseMs: LEASE_MS,
      heartbeatMs: HEARTBEAT_MS,
      key: KEY,
      labels: LABELS,
      endpoint: ENDPOINT,
      share: 2,
      leases: 2,
      timeoutMs: TIMEOUT_MS,
    };
    const child = spawn(process.execPath, [join(SLUICE_ROOT, 'dist/test/support/departing-gateway.js'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      await waitUntil('gateway A to hold its 2 slots', () => out.includes('{"ready":true}') || child.exitCode !== null, 20_000, 20);
      expect(child.exitCode).toBeNull();
      // A's record says how long its requests may still run: their 60 s, less the clock's tick between taking a
      // request's deadline and starting its lease (Date.now() may pass a millisecond boundary in between).
      let seen = 'nothing';
      await waitUntil(
        'B to see that A has requests in flight for up to their timeout',
        () => {
          const record = membership.states()?.get('gw-a');
          seen = `A's record ${JSON.stringify(record ?? null)}, members ${JSON.stringify(membership.members())}`;
          const ms = Number(record?.[`f:${KEY}`]);
          return ms > TIMEOUT_MS - 1000 && ms <= TIMEOUT_MS;
        },
        10_000,
        20,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; B saw ${seen}`);
      });
      expect(membership.members()).toEqual(['gw-a', 'gw-b']);
      expect(limit()).toBe(2);

      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      clearInterval(follow);
      const killedAt = Date.now();
      const at = async (t: number): Promise<void> => {
        clock.advance(Math.max(0, t - clock.now()));
        await membership.heartbeat();
      };

      // A's lease is over (it was last renewed before the kill): A is gone from the members, but departed.
      await at(killedAt + LEASE_MS + 1);
      expect(membership.members()).toEqual(['gw-b']);
      expect([...(membership.departed().get('gw-a') ?? [])]).toEqual([KEY]);
      // B takes its own 2 slots, not A's: A's 2 requests may still run on the replica.
      expect(limit()).toBe(2);
      const leases: Lease[] = [];
      for (let i = 0; i < 2; i++) {
        const l = activator.acquire(KEY, { deadlineAt: clock.now() + 1e9, bytes: 0 });
        expect('then' in l).toBe(false);
        leases.push(l as Lease);
      }
      const third = activator.acquire(KEY, { deadlineAt: clock.now() + 1e9, bytes: 0 });
      expect('then' in third).toBe(true);
      let served = false;
      void (third as Promise<Lease>).then((l) => {
        served = true;
        leases.push(l);
      });

      // Still so until A's requests have passed their deadlines: A's last heartbeat (at most one period before
      // the kill) + its lease + their 60 s.
      await at(killedAt + LEASE_MS + TIMEOUT_MS - HEARTBEAT_MS - 500);
      expect(membership.departed().has('gw-a')).toBe(true);
      expect(limit()).toBe(2);
      expect(served).toBe(false);
      // Past them: A's share is B's, and the held request gets its slot.
      await at(killedAt + LEASE_MS + TIMEOUT_MS + HEARTBEAT_MS + 100);
      expect(membership.departed().size).toBe(0);
      expect(membership.states()?.has('gw-a')).toBe(false);
      expect(limit()).toBe(4);
      await waitUntil('the held request to be served', () => served, 2_000, 5);
      for (const l of leases) l.release();
    } finally {
      clearInterval(follow);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      activator.close();
      await membership.close();
    }
  }, 60_000);
});
