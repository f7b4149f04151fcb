import { describe, expect, it } from 'vitest';
import { Autoscaler } from '../autoscaler/autoscaler.js';
import { FakeClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import { SluiceMetrics } from '../core/metrics.js';
import { MemoryStore } from '../core/store.js';
import type { Backend, Endpoint, EndpointEvent, ReplicaCounts } from '../api/backend.js';
import { demoRevision } from '../test/support/demo-revision.js';
import { Activator } from './activator.js';

/** A backend that records scale calls and nothing else. */
class RecordingBackend implements Backend {
  readonly scales: Array<{ key: string; replicas: number; at: number }> = [];
  constructor(private readonly clock: FakeClock) {}
  async apply(): Promise<void> {}
  async scale(key: string, replicas: number): Promise<void> {
    this.scales.push({ key, replicas, at: this.clock.now() });
  }
  async remove(): Promise<void> {}
  counts(): ReplicaCounts {
    return { desired: 0, starting: 0, ready: 0 };
  }
  endpoints(): Endpoint[] {
    return [];
  }
  subscribe(_l: (e: EndpointEvent) => void): () => void {
    return () => undefined;
  }
  async close(): Promise<void> {}
}

describe('wake-up from zero', () => {
  it('the first held request makes the autoscaler scale to 1 at once, not on its next tick', async () => {
    const clock = new FakeClock(5_000_000);
    const store = new MemoryStore();
    const metrics = new SluiceMetrics();
    const backend = new RecordingBackend(clock);
    const activator = new Activator({
      clock,
      metrics,
      logger: silentLogger(),
      limits: { maxHeldPerRevision: 10, maxHeldTotal: 10, maxHeldBytesPerRevision: 1e6, maxHeldBytesTotal: 1e6, retryAfterSeconds: 1 },
      poke: (k) => void store.poke(k),
    });
    const autoscaler = new Autoscaler({
      clock,
      store,
      backend,
      metrics,
      logger: silentLogger(),
      tickMs: 60_000,
      waiting: (k) => activator.held(k),
    });
    const base = demoRevision();
    const rev = { ...base, autoscaling: { ...base.autoscaling, initialScale: 0 } };
    const key = `${rev.namespace}/${rev.name}`;
    activator.addRevision(key, { namespace: rev.namespace, service: rev.service, revision: rev.name });
    await autoscaler.register(rev);
    autoscaler.start();
    expect(backend.scales).toEqual([{ key, replicas: 0, at: 5_000_000 }]);

    const held = activator.acquire(key, { deadlineAt: clock.now() + 30_000, bytes: 0 });
    expect(held).toBeInstanceOf(Promise);
    (held as Promise<unknown>).catch(() => undefined);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    // No time has passed on the clock: the decision came from the poke, not from a tick.
    expect(backend.scales.at(-1)).toEqual({ key, replicas: 1, at: 5_000_000 });
    autoscaler.stop();
    activator.close();
  });
});
