import { describe, expect, it } from 'vitest';
import type { Decision, DeciderInput } from '../decider.js';
import { adaptiveKeepWarm, IdleGapHistogram } from './keep-warm.js';

const zero: Decision = { desired: 0, panic: false, excessBurstCapacity: -1, reason: 'scale-to-zero' };
function input(now: number, lastActiveAt: number): DeciderInput {
  return { now, readyReplicas: 1, startingReplicas: 0, currentDesired: 1, stable: 0, panic: 0, observedMs: 1e9, lastActiveAt, waiting: 0 };
}

describe('IdleGapHistogram', () => {
  it('is not trusted before enough gaps, nor when most gaps are out of range', () => {
    const h = new IdleGapHistogram({ minSamples: 3, rangeMs: 600_000, binMs: 10_000, minGapMs: 60_000 });
    h.record(120_000);
    h.record(130_000);
    expect(h.window()).toBeNull();
    h.record(140_000);
    expect(h.window()).not.toBeNull();
    for (let i = 0; i < 4; i++) h.record(3_600_000);
    expect(h.window()).toBeNull();
  });

  it('learns only gaps of at least the minimum from activity times', () => {
    const h = new IdleGapHistogram({ minSamples: 1, minGapMs: 60_000 });
    h.activity(0);
    h.activity(2_000); // continuous activity: no gap
    h.activity(182_000); // 180 s gap
    expect(h.samples()).toBe(1);
  });

  it('derives pre-warm from the 5th percentile and keep-alive from the 99th (+10 %)', () => {
    const h = new IdleGapHistogram({ minSamples: 10, binMs: 10_000, rangeMs: 3_600_000 });
    // 100 gaps spread uniformly over 300–400 s
    for (let i = 0; i < 100; i++) h.record(300_000 + i * 1_000);
    const w = h.window()!;
    expect(w.prewarmMs).toBe(Math.floor(300_000 * 0.9)); // bin [300, 310) s
    expect(w.keepAliveMs).toBe(Math.ceil(400_000 * 1.1)); // bin [390, 400) s upper edge
  });
});

describe('adaptiveKeepWarm', () => {
  const w = { prewarmMs: 270_000, keepAliveMs: 440_000 };
  it('goes to zero until the pre-warm point minus start-up, then keeps one replica until keep-alive', () => {
    const at = (idle: number) => adaptiveKeepWarm(zero, input(1_000_000 + idle, 1_000_000), w, { minScale: 0, startupMs: 20_000, stableWindowMs: 60_000 });
    expect(at(100_000)).toMatchObject({ desired: 0 });
    expect(at(250_000)).toMatchObject({ desired: 1, reason: 'keep-warm' });
    expect(at(439_000)).toMatchObject({ desired: 1, reason: 'keep-warm' });
    expect(at(440_000)).toMatchObject({ desired: 0 });
  });

  it('unloads early a replica the grace period would keep, and leaves demand-driven decisions alone', () => {
    const grace: Decision = { desired: 1, panic: false, excessBurstCapacity: -1, reason: 'scale-to-zero-grace' };
    expect(adaptiveKeepWarm(grace, input(1_100_000, 1_000_000), w, { minScale: 0, startupMs: 0, stableWindowMs: 60_000 })).toMatchObject({ desired: 0, reason: 'keep-warm-unload' });
    const busy = { ...input(1_100_000, 1_000_000), stable: 0.5 };
    expect(adaptiveKeepWarm(grace, busy, w, { minScale: 0, startupMs: 0, stableWindowMs: 60_000 })).toBe(grace);
    expect(adaptiveKeepWarm(zero, input(1_100_000, 1_000_000), null, { minScale: 0, startupMs: 0, stableWindowMs: 60_000 })).toBe(zero);
  });

  it('leaves the first stable window after a request to the decider: the request may be in no window yet', () => {
    const grace: Decision = { desired: 1, panic: false, excessBurstCapacity: -1, reason: 'scale-to-zero-grace' };
    const opts = { minScale: 0, startupMs: 0, stableWindowMs: 60_000 };
    expect(adaptiveKeepWarm(grace, input(1_000_128, 1_000_000), w, opts)).toBe(grace);
    expect(adaptiveKeepWarm(grace, input(1_059_999, 1_000_000), w, opts)).toBe(grace);
    expect(adaptiveKeepWarm(grace, input(1_060_000, 1_000_000), w, opts)).toMatchObject({ desired: 0, reason: 'keep-warm-unload' });
  });
});
