import { describe, expect, it } from 'vitest';
import { initialScaleState, scaleStep, type RevisionNow } from './pipeline.js';
import { GpuAllocator } from './policies/gpu.js';
import { resourcePolicySettings } from './policies/resource.js';
import { deciderSettings } from './settings.js';
import { autoscalingSpec } from './testing/spec.js';

const GPU = { 'nvidia.com/gpu': 1 };
const revision = (over: Partial<RevisionNow> = {}): RevisionNow => ({
  now: 1_000_000,
  readyReplicas: 2,
  startingReplicas: 0,
  currentDesired: 2,
  observedMs: 600_000,
  lastActiveAt: 999_000,
  waiting: 0,
  ...over,
});
const quiet = { stable: 0, panic: 0, lastActiveSecond: null, arrivals: null };

describe('scaleStep: one step for a wake-up, the decider and the cpu/memory policy', () => {
  it('wakes a revision at zero to its activation scale (at least min scale, at most max scale)', () => {
    const s = deciderSettings(autoscalingSpec({ activationScale: 3, maxReplicas: 2 }), 10);
    const r = scaleStep({ kind: 'wake', now: 1_000_000 }, { settings: s, resource: null }, initialScaleState(), { revisionKey: 'ns/r' });
    expect(r.decision).toEqual({ desired: 2, panic: false, excessBurstCapacity: -1, reason: 'poke' });
    expect(r.condition).toBeNull();
  });

  it('ends the time at zero on a wake-up: the grace counts again from the next zero recommendation', () => {
    const s = deciderSettings(autoscalingSpec(), 10);
    const atZero = { ...initialScaleState(), decider: { ...initialScaleState().decider, zeroSince: 400_000 } };
    const r = scaleStep({ kind: 'wake', now: 1_000_000 }, { settings: s, resource: null }, atZero, { revisionKey: 'ns/r' });
    expect(r.decision.desired).toBe(1);
    expect(r.state.decider.zeroSince).toBeNull();
  });

  it('caps a wake-up at the GPUs free for the revision, and says why', () => {
    const inventory = GpuAllocator.uniform('nvidia.com/gpu', 1);
    inventory.allocate('ns/other', 'ns/other#1', GPU);
    const s = deciderSettings(autoscalingSpec(), 1, { gpus: GPU });
    const r = scaleStep({ kind: 'wake', now: 1_000_000 }, { settings: s, resource: null }, initialScaleState(), { revisionKey: 'ns/r', gpus: GPU, inventory });
    expect(r.decision).toMatchObject({ desired: 0, reason: 'gpu-capacity' });
    expect(r).toMatchObject({ capacityLimited: true, condition: { status: 'False', reason: 'InsufficientGPU' } });
  });

  it('decides a cpu revision with the resource policy, reading usage only then, and keeps its memory', () => {
    const spec = autoscalingSpec({ metric: 'cpu', target: 50, minReplicas: 1, maxReplicas: 8 });
    const policy = { settings: deciderSettings(spec, 10), resource: resourcePolicySettings(spec) };
    const usage = [
      { replicaId: 'a', cpuPercent: 100, memoryPercent: 10 },
      { replicaId: 'b', cpuPercent: 100, memoryPercent: 10 },
    ];
    const r = scaleStep({ kind: 'observed', revision: revision(), observation: quiet, usage: () => usage }, policy, initialScaleState(), { revisionKey: 'ns/r' });
    expect(r.decision).toEqual({ desired: 4, panic: false, excessBurstCapacity: -1, reason: 'cpu-above-target' });
    expect(r.state.resource.recommendations).toEqual([{ at: 1_000_000, desired: 4 }]);
    let read = 0;
    const plain = { settings: deciderSettings(autoscalingSpec(), 10), resource: null };
    scaleStep({ kind: 'observed', revision: revision(), observation: quiet, usage: () => (read++, usage) }, plain, initialScaleState(), { revisionKey: 'ns/r' });
    expect(read).toBe(0);
  });

  it('caps the cpu/memory policy at the GPUs too: the cap is applied once, after every kind of decision', () => {
    const inventory = GpuAllocator.uniform('nvidia.com/gpu', 2);
    const spec = autoscalingSpec({ metric: 'cpu', target: 50, minReplicas: 1, maxReplicas: 8 });
    const policy = { settings: deciderSettings(spec, 10, { gpus: GPU }), resource: resourcePolicySettings(spec) };
    const usage = [
      { replicaId: 'a', cpuPercent: 100, memoryPercent: 10 },
      { replicaId: 'b', cpuPercent: 100, memoryPercent: 10 },
    ];
    const r = scaleStep({ kind: 'observed', revision: revision(), observation: quiet, usage: () => usage }, policy, initialScaleState(), {
      revisionKey: 'ns/r',
      gpus: GPU,
      inventory,
    });
    expect(r.decision).toMatchObject({ desired: 2, reason: 'gpu-capacity' });
    expect(r.condition?.message).toContain('needs 4 replicas but only 2 fit');
  });
});
