import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import { LeaderElector, LeaseConflict, type LeaseClient, type LeaseRecord } from './leader-election.js';

/** One Lease in memory with Kubernetes' optimistic concurrency. */
class MemoryLease {
  rec: LeaseRecord | null = null;
  private version = 0;
  /** Candidates cut off from the API (a network partition). */
  readonly cutOff = new Set<string>();
  client(id: string): LeaseClient {
    const check = (): void => {
      if (this.cutOff.has(id)) throw new Error('API unreachable');
    };
    return {
      get: async () => {
        check();
        return this.rec ? { ...this.rec } : null;
      },
      create: async (r) => {
        check();
        if (this.rec) throw new LeaseConflict('exists');
        this.rec = { ...r, resourceVersion: String(++this.version) };
        return { ...this.rec };
      },
      update: async (r) => {
        check();
        if (!this.rec || this.rec.resourceVersion !== r.resourceVersion) throw new LeaseConflict('stale');
        this.rec = { ...r, resourceVersion: String(++this.version) };
        return { ...this.rec };
      },
    };
  }
}

function candidate(lease: MemoryLease, clock: FakeClock, id: string, log: string[]): LeaderElector {
  return new LeaderElector({
    client: lease.client(id),
    identity: id,
    clock,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: () => log.push(`${id}+`),
    onStoppedLeading: () => log.push(`${id}-`),
  });
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Moves time a second at a time; each elector's own timer runs its rounds. */
async function settle(clock: FakeClock, ms: number): Promise<void> {
  await flush();
  for (let t = 0; t < ms; t += 1000) {
    clock.advance(1000);
    await flush();
  }
}

describe('LeaderElector', () => {
  it('lets exactly one of two candidates lead, and hands over only after the lease expires', async () => {
    const clock = new FakeClock(1_000_000);
    const lease = new MemoryLease();
    const log: string[] = [];
    const a = candidate(lease, clock, 'a', log);
    const b = candidate(lease, clock, 'b', log);
    a.start();
    b.start();
    await settle(clock, 10_000);
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const [leader, other] = a.isLeader ? [a, b] : [b, a];
    // The leader is cut off from the API: it steps down after the renew deadline (10 s); the other waits for
    // the whole lease duration (15 s) since it last saw the record change, then takes over. Never both at once.
    lease.cutOff.add(leader === a ? 'a' : 'b');
    let both = false;
    for (let i = 0; i < 30; i++) {
      clock.advance(1000);
      await flush();
      if (leader.isLeader && other.isLeader) both = true;
    }
    expect(both).toBe(false);
    expect(other.isLeader).toBe(true);
    expect(lease.rec?.transitions).toBe(1);
  });

  it('gives the lease up on stop so another candidate can lead at once', async () => {
    const clock = new FakeClock(0);
    const lease = new MemoryLease();
    const log: string[] = [];
    const a = candidate(lease, clock, 'a', log);
    a.start();
    await settle(clock, 1000);
    expect(a.isLeader).toBe(true);
    await a.stop();
    expect(a.isLeader).toBe(false);
    const b = candidate(lease, clock, 'b', log);
    b.start();
    await settle(clock, 1000);
    expect(b.isLeader).toBe(true);
    expect(log).toEqual(['a+', 'a-', 'b+']);
  });
});
