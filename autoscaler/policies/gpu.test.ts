import { describe, expect, it } from 'vitest';
import { initialDeciderState, type DeciderInput, type DeciderState } from '../decider.js';
import { scaleStep, type PolicyContext } from '../pipeline.js';
import { deciderSettings, type DeciderSettings } from '../settings.js';
import { autoscalingSpec } from '../testing/spec.js';
import { GpuAllocator, replicasThatFit, type ArrivalView } from './gpu.js';
import { initialResourceState } from './resource.js';
import { PendingStarts, StartupTracker } from './startup.js';

const GPU = { 'nvidia.com/gpu': 1 };

function input(over: Partial<DeciderInput>): DeciderInput {
  return { now: 1_000_000, readyReplicas: 0, startingReplicas: 0, currentDesired: 0, stable: 0, panic: 0, observedMs: 600_000, lastActiveAt: null, waiting: 0, ...over };
}

/** The scaling step on observed demand for a revision scaled by the decider (not cpu/memory). */
function decideOnDemand(input: DeciderInput, s: DeciderSettings, state: DeciderState, ctx: PolicyContext & { arrivals?: ArrivalView }) {
  const { stable, panic, ...revision } = input;
  const { arrivals = null, ...policy } = ctx;
  const step = { kind: 'observed' as const, revision, observation: { stable, panic, lastActiveSecond: null, arrivals } };
  const r = scaleStep(step, { settings: s, resource: null }, { decider: state, resource: initialResourceState() }, policy);
  return { ...r, state: r.state.decider };
}

describe('GpuAllocator', () => {
  it('pins replicas to devices all-or-nothing and hands them back on stop', () => {
    const a = GpuAllocator.uniform('nvidia.com/gpu', 2);
    expect(a.capacity('nvidia.com/gpu')).toBe(2);
    expect(a.allocate('ns/r', 'ns/r#1', GPU)).toEqual({ devices: { 'nvidia.com/gpu': ['0'] }, env: { CUDA_VISIBLE_DEVICES: '0' } });
    expect(a.allocate('ns/other', 'ns/other#1', GPU)?.env).toEqual({ CUDA_VISIBLE_DEVICES: '1' });
    expect(a.allocate('ns/r', 'ns/r#2', GPU)).toBeNull();
    expect(a.allocated('nvidia.com/gpu')).toBe(2);
    expect(a.allocated('nvidia.com/gpu', 'ns/r')).toBe(1);
    a.release('ns/other#1');
    expect(a.allocate('ns/r', 'ns/r#2', { 'nvidia.com/gpu': 2 })).toBeNull(); // needs 2, only 1 free
    expect(a.allocate('ns/r', 'ns/r#2', GPU)?.env).toEqual({ CUDA_VISIBLE_DEVICES: '1' });
    const amd = GpuAllocator.uniform('amd.com/gpu', 4);
    expect(amd.allocate('ns/m', 'ns/m#1', { 'amd.com/gpu': 2 })?.env).toEqual({ ROCR_VISIBLE_DEVICES: '0,1', HIP_VISIBLE_DEVICES: '0,1' });
  });

  it('counts a revision’s own devices plus the free ones as room', () => {
    const a = GpuAllocator.uniform('nvidia.com/gpu', 4);
    a.allocate('ns/other', 'ns/other#1', GPU);
    a.allocate('ns/r', 'ns/r#1', GPU);
    expect(replicasThatFit(a, 'ns/r', GPU)).toBe(3);
    expect(replicasThatFit(a, 'ns/r', { 'nvidia.com/gpu': 2 })).toBe(1);
  });
});

describe('GPU policy layered on the decider', () => {
  // containerConcurrency 1 → target 0.7 per replica
  const s = deciderSettings(autoscalingSpec({ targetBurstCapacity: 0 }), 1, { gpus: GPU });

  it('never asks for a third replica with 2 GPUs and 1 GPU per replica, and says why', () => {
    const inventory = GpuAllocator.uniform('nvidia.com/gpu', 2);
    inventory.allocate('ns/r', 'ns/r#1', GPU);
    inventory.allocate('ns/r', 'ns/r#2', GPU);
    const r = decideOnDemand(input({ readyReplicas: 2, currentDesired: 2, stable: 10, panic: 10 }), s, initialDeciderState(), {
      revisionKey: 'ns/r',
      gpus: GPU,
      inventory,
      startupMs: 30_000,
    });
    expect(r.decision.desired).toBe(2);
    expect(r.decision.reason).toBe('gpu-capacity');
    expect(r.capacityLimited).toBe(true);
    expect(r.condition).toMatchObject({ type: 'GpuCapacity', status: 'False', reason: 'InsufficientGPU' });
    expect(r.condition?.message).toContain('needs 15 replicas but only 2 fit');
  });

  it('reports sufficient capacity when demand fits', () => {
    const inventory = GpuAllocator.uniform('nvidia.com/gpu', 2);
    const r = decideOnDemand(input({ readyReplicas: 1, currentDesired: 1, stable: 0.5, panic: 0.5 }), s, initialDeciderState(), {
      revisionKey: 'ns/r',
      gpus: GPU,
      inventory,
    });
    expect(r.decision.desired).toBe(1);
    expect(r.condition).toMatchObject({ status: 'True', reason: 'Sufficient' });
  });

  it('counts starting replicas as capacity: no panic while a slow model loads', () => {
    const big = deciderSettings(autoscalingSpec({ targetBurstCapacity: 0 }), 4, { gpus: GPU }); // target 2.8
    // 2 replicas starting, none ready, 6 requests held: KPA alone panics to ceil(6/2.8) = 3 and beyond.
    const at = input({ readyReplicas: 0, startingReplicas: 2, currentDesired: 2, stable: 5, panic: 6 });
    const cpu = deciderSettings(autoscalingSpec({ targetBurstCapacity: 0 }), 4); // plain KPA
    const plain = decideOnDemand(at, cpu, initialDeciderState(), { revisionKey: 'ns/cpu' });
    expect(plain.decision).toMatchObject({ panic: true, desired: 3 });
    // a CPU revision can opt in
    const opted = deciderSettings(autoscalingSpec({ targetBurstCapacity: 0 }), 4, { startupAware: true });
    expect(decideOnDemand(at, opted, initialDeciderState(), { revisionKey: 'ns/cpu' }).decision).toMatchObject({ panic: false, desired: 2 });
    const gpu = decideOnDemand(at, big, initialDeciderState(), { revisionKey: 'ns/r', gpus: GPU, startupMs: 0 });
    expect(gpu.decision).toMatchObject({ panic: false, desired: 2 });
  });

  it('scales ahead by the learned start-up time when demand is rising', () => {
    const big = deciderSettings(autoscalingSpec({ targetBurstCapacity: 0 }), 4, { gpus: GPU }); // target 2.8
    // stable 3 → 2 replicas, panic 6 → 3 (3 / 2 < 2: no panic). Slope over (60 − 6)/2 = 27 s: 3 per 27 s.
    const at = input({ readyReplicas: 2, currentDesired: 2, stable: 3, panic: 6 });
    const ahead = (startupMs: number, over: Partial<DeciderInput> = {}) =>
      decideOnDemand({ ...at, ...over }, big, initialDeciderState(), { revisionKey: 'ns/r', gpus: GPU, startupMs }).decision.desired;
    expect(ahead(0)).toBe(2); // nothing projected: ceil(3 / 2.8) = 2
    expect(ahead(13_500)).toBe(3); // 6 + 1.5 = 7.5 → 7.5 / 2.8 = 2.7 → 3
    expect(ahead(27_000)).toBe(4); // 6 + 3 = 9 → 3.2 → 4
    expect(ahead(10_000_000)).toBe(5); // capped at twice the panic demand: 12 / 2.8 = 4.3 → 5
    // noise (panic less than 25 % over stable) is not projected
    expect(ahead(10_000_000, { stable: 5, panic: 6 })).toBe(2);
  });

  it('caps held-request demand by Little’s law once the service time is known', () => {
    const big = deciderSettings(autoscalingSpec({ targetBurstCapacity: 0 }), 4, { gpus: GPU }); // target 2.8
    // 1 replica just ready, 596 requests held; 10 rps × 0.3 s = 3 in real demand, plus 596 × 0.3 s drained over
    // the 60 s start-up = 2.98 → 5.98 / 2.8 → 3 replicas, not 100.
    const at = input({ readyReplicas: 1, currentDesired: 1, stable: 500, panic: 600, waiting: 596 });
    const plain = decideOnDemand(at, deciderSettings(autoscalingSpec({ targetBurstCapacity: 0 }), 4), initialDeciderState(), { revisionKey: 'ns/cpu' });
    expect(plain.decision.desired).toBe(100); // KPA alone: max scale
    const r = decideOnDemand(at, big, initialDeciderState(), {
      revisionKey: 'ns/r',
      gpus: GPU,
      startupMs: 60_000,
      arrivals: { stableRps: 10, panicRps: 10, serviceMs: 300 },
    });
    expect(r.decision.desired).toBe(3);
  });

  it('asks for no more than already asked while the first cold start is loading (service time unknown)', () => {
    const big = deciderSettings(autoscalingSpec({ targetBurstCapacity: 0 }), 4, { gpus: GPU });
    const at = input({ readyReplicas: 0, startingReplicas: 1, currentDesired: 1, stable: 200, panic: 300, waiting: 300 });
    const r = decideOnDemand(at, big, initialDeciderState(), {
      revisionKey: 'ns/r',
      gpus: GPU,
      startupMs: 60_000,
      arrivals: { stableRps: 10, panicRps: 10, serviceMs: null },
    });
    expect(r.decision.desired).toBe(1);
    expect(r.state.maxPanicReplicas).toBeLessThanOrEqual(1); // the decider's memory is not inflated either
  });
});

describe('StartupTracker and PendingStarts', () => {
  it('learns time-to-ready as an EWMA of observed cold starts', () => {
    const t = new StartupTracker({ alpha: 0.5, defaultMs: 30_000 });
    expect(t.estimateMs()).toBe(30_000);
    t.observe(10_000);
    expect(t.estimateMs()).toBe(10_000);
    t.observe(20_000);
    expect(t.estimateMs()).toBe(15_000);
    expect(t.observations()).toBe(2);
  });

  it('pairs scale-ups with ready replicas, oldest first, bounded', () => {
    const p = new PendingStarts(3);
    p.asked(0, 2);
    p.asked(5_000, 5);
    expect(p.size()).toBe(3);
    expect(p.ready(12_000)).toBe(7_000);
    p.trim(1);
    expect(p.size()).toBe(1);
    expect(p.ready(13_000)).toBe(8_000);
    expect(p.ready(14_000)).toBeNull();
  });
});
