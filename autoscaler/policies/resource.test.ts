import { describe, expect, it } from 'vitest';
import { autoscalingSpec } from '../testing/spec.js';
import { initialResourceState, resourceDecide, resourcePolicySettings, type ReplicaUsage } from './resource.js';

const usage = (...cpu: number[]): ReplicaUsage[] => cpu.map((c, i) => ({ replicaId: `r#${i}`, cpuPercent: c, memoryPercent: c / 2 }));

describe('resource policy (HPA-style)', () => {
  const s = resourcePolicySettings(autoscalingSpec({ metric: 'cpu', target: 50, maxReplicas: 10 }));

  it('resolves defaults: 80 % target, 10 % tolerance, 300 s stabilization, never below one replica', () => {
    const d = resourcePolicySettings(autoscalingSpec({ metric: 'memory' }));
    expect(d).toMatchObject({ metric: 'memory', targetPercent: 80, tolerance: 0.1, scaleDownStabilizationMs: 300_000, minScale: 1 });
  });

  it('scales up at once to ceil(replicas × usage / target)', () => {
    // 2 replicas at 90 % and 70 % → average 80, ratio 1.6 → ceil(3.2) = 4
    const r = resourceDecide({ now: 0, currentReplicas: 2, usage: usage(90, 70) }, s, initialResourceState());
    expect(r).toMatchObject({ desired: 4, reason: 'cpu-above-target', averagePercent: 80 });
  });

  it('does nothing inside the tolerance band', () => {
    // 54 / 50 = 1.08 → within ±10 %
    expect(resourceDecide({ now: 0, currentReplicas: 3, usage: usage(54, 54, 54) }, s, initialResourceState()).desired).toBe(3);
    // 56 / 50 = 1.12 → ceil(3 × 1.12) = 4
    expect(resourceDecide({ now: 0, currentReplicas: 3, usage: usage(56, 56, 56) }, s, initialResourceState()).desired).toBe(4);
  });

  it('scales down only to the highest recommendation of the stabilization window', () => {
    let st = initialResourceState();
    let r = resourceDecide({ now: 0, currentReplicas: 4, usage: usage(50, 50, 50, 50) }, s, st); // 4, within tolerance
    st = r.state;
    r = resourceDecide({ now: 60_000, currentReplicas: 4, usage: usage(10, 10, 10, 10) }, s, st); // wants 1, held at 4
    expect(r).toMatchObject({ desired: 4, reason: 'scale-down-stabilization' });
    st = r.state;
    r = resourceDecide({ now: 299_000, currentReplicas: 4, usage: usage(10, 10, 10, 10) }, s, st);
    expect(r.desired).toBe(4);
    st = r.state;
    r = resourceDecide({ now: 300_000, currentReplicas: 4, usage: usage(10, 10, 10, 10) }, s, st); // t=0 left the window
    expect(r).toMatchObject({ desired: 1, reason: 'cpu-below-target' });
    expect(r.state.recommendations.length).toBeLessThanOrEqual(300);
  });

  it('keeps the current scale without metrics, and applies min/max', () => {
    expect(resourceDecide({ now: 0, currentReplicas: 2, usage: [] }, s, initialResourceState())).toMatchObject({ desired: 2, reason: 'no-metrics' });
    expect(resourceDecide({ now: 0, currentReplicas: 5, usage: usage(500, 500, 500, 500, 500) }, s, initialResourceState())).toMatchObject({
      desired: 10,
      reason: 'max-scale',
    });
    const mem = resourcePolicySettings(autoscalingSpec({ metric: 'memory', target: 40 }));
    // memory 45 % / 40 = 1.125 → ceil(2 × 1.125) = 3
    expect(resourceDecide({ now: 0, currentReplicas: 2, usage: usage(90, 90) }, mem, initialResourceState()).desired).toBe(3);
  });
});
