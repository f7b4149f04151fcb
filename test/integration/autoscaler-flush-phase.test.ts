/**
 * The autoscaler's windows against the collector's flush phase, on a fake clock. The collector pushes each
 * completed second to the store once a second, at whatever phase it was started; the autoscaler ticks at its
 * own phase and reads its windows up to the last completed second. When the flush comes later in the second
 * than the tick, the newest second is not in the store yet and counts as no traffic.
 *
 * Measured here: a steady 11 in flight reads 10.82 (= 11 × 59/60) in the 60 s window and 9.17 (= 11 × 5/6)
 * in the 6 s panic window on every tick. Found by the embedded step test (test/e2e/autoscaling.test.ts): there
 * the panic concurrency read 10.9, 0, 10.9, 0 on alternate ticks and the stable one dipped below 9, so
 * 4 replicas fell to 3. The observation step now ends its windows before a newest second that is not reported yet
 * (autoscaler/observe.ts reportedUpTo).
 */
import { describe, expect, it } from 'vitest';
import { Autoscaler } from '../../autoscaler/autoscaler.js';
import { Collector } from '../../autoscaler/collector.js';
import { FakeBackend } from '../../autoscaler/testing/fake-backend.js';
import { testRevision } from '../../autoscaler/testing/revision.js';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { SluiceMetrics } from '../../core/metrics.js';
import { MemoryStore } from '../../core/store.js';
import { metricValue } from '../support/metrics-text.js';

const KEY = 'default/model-predictor-00001';

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe('autoscaler windows and the collector flush phase', () => {
  it('reads a steady 11 in flight as 11 in both windows, whatever the phase of flushes and ticks', async () => {
    const clock = new FakeClock(1_000_000); // ticks at .000 and .500 of each second
    const store = new MemoryStore();
    const backend = new FakeBackend({ clock, startupMs: 0 });
    const metrics = new SluiceMetrics();
    const autoscaler = new Autoscaler({ clock, store, backend, metrics, logger: silentLogger(), tickMs: 500 });
    const rev = testRevision({ autoscaling: { initialScale: 1 } });
    await backend.apply(rev);
    autoscaler.start();
    await autoscaler.register(rev);
    clock.advance(700); // the gateway (and its collector) started later: flushes at .700
    const collector = new Collector({ clock, store, instance: 'gw', flushIntervalMs: 1000 });
    for (let i = 0; i < 11; i++) collector.begin(KEY);
    // Fill the 60 s stable window, then watch every tick for 5 s.
    for (let t = 0; t < 65_000; t += 100) {
      clock.advance(100);
      await settle();
    }
    const seen: Array<{ stable: number; panic: number }> = [];
    const labels = { revision: 'model-predictor-00001' };
    for (let t = 0; t < 5_000; t += 100) {
      clock.advance(100);
      await settle();
      if (clock.now() % 500 !== 0) continue;
      const text = await metrics.registry.metrics();
      seen.push({ stable: metricValue(text, 'sluice_autoscaler_stable_concurrency', labels)!, panic: metricValue(text, 'sluice_autoscaler_panic_concurrency', labels)! });
    }
    expect(seen).toHaveLength(10);
    expect(seen).toEqual(Array.from({ length: 10 }, () => ({ stable: 11, panic: 11 })));
    collector.close();
    autoscaler.stop();
  });
});
