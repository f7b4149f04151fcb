import { describe, expect, it } from 'vitest';
import { FakeClock } from '../core/clock.js';
import { resolveServeConfig, SERVE_DEFAULTS } from '../core/config.js';
import { silentLogger } from '../core/log.js';
import { SluiceMetrics } from '../core/metrics.js';
import { MemoryStore } from '../core/store.js';
import { Autoscaler } from './autoscaler.js';
import { AUTOSCALING_DEFAULTS, CLUSTER_AUTOSCALING_KEYS, clusterAutoscalingDefaults, deciderSettings } from './settings.js';
import { FakeBackend } from './testing/fake-backend.js';
import { testRevision } from './testing/revision.js';
import { autoscalingSpec } from './testing/spec.js';

describe('cluster-wide autoscaling settings (configuration table)', () => {
  it('the autoscaler takes each cluster-wide default from the configuration table, written once', () => {
    for (const k of CLUSTER_AUTOSCALING_KEYS) expect(AUTOSCALING_DEFAULTS[k], k).toBe(SERVE_DEFAULTS[k]);
    // The values the simulator and the tests were built on.
    expect(deciderSettings(autoscalingSpec(), 10)).toMatchObject({ stableWindowMs: 60_000, panicWindowMs: 6_000, panicThreshold: 2, maxScale: 100, initialScale: 1 });
  });

  it('a setting changes the default of every revision; a revision that sets its own keeps it', () => {
    const defaults = clusterAutoscalingDefaults(resolveServeConfig({ stableWindowSeconds: 120, panicThresholdPercent: 300, maxReplicasCap: 7 }));
    expect(deciderSettings(autoscalingSpec(), 10, { defaults })).toMatchObject({ stableWindowMs: 120_000, panicThreshold: 3, maxScale: 7 });
    expect(deciderSettings(autoscalingSpec({ stableWindowSeconds: 30, panicThresholdPercent: 150, maxReplicas: 20 }), 10, { defaults })).toMatchObject({
      stableWindowMs: 30_000,
      panicThreshold: 1.5,
      maxScale: 20,
    });
  });

  it('the scaling loop applies the configured initial scale to a new revision', async () => {
    const clock = new FakeClock(1_000_000);
    const backend = new FakeBackend({ clock, startupMs: 0 });
    const rev = testRevision();
    await backend.apply(rev);
    const a = new Autoscaler({
      clock,
      store: new MemoryStore(),
      backend,
      metrics: new SluiceMetrics(),
      logger: silentLogger(),
      defaults: clusterAutoscalingDefaults(resolveServeConfig({ initialScale: 3 })),
    });
    await a.register(rev);
    expect(backend.counts('default/model-predictor-00001').desired).toBe(3);
  });
});
