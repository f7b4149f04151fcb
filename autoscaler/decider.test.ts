import { describe, expect, it } from 'vitest';
import type { AutoscalingSpec } from '../api/revision.js';
import { decide, initialDeciderState, type DeciderInput, type DeciderState } from './decider.js';
import { deciderSettings, type DeciderSettings, type DeciderSettingsOptions } from './settings.js';
import { autoscalingSpec } from './testing/spec.js';

// containerConcurrency 10 → total target 10, utilization 70 % → target 7 per replica; stable 60 s, panic 6 s.
function settings(over: Partial<AutoscalingSpec> = {}, opts: DeciderSettingsOptions = {}): DeciderSettings {
  return deciderSettings(autoscalingSpec(over), 10, opts);
}

function input(over: Partial<DeciderInput>): DeciderInput {
  return {
    now: 1_000_000,
    readyReplicas: 1,
    startingReplicas: 0,
    currentDesired: 1,
    stable: 0,
    panic: 0,
    observedMs: 3_600_000,
    lastActiveAt: null,
    waiting: 0,
    ...over,
  };
}

/** Runs a sequence of ticks, threading the state, and returns every decision. */
function run(s: DeciderSettings, ticks: Array<Partial<DeciderInput>>, state: DeciderState = initialDeciderState()) {
  const out = [];
  let st = state;
  let current = ticks[0]?.currentDesired ?? 1;
  for (const t of ticks) {
    const r = decide(input({ currentDesired: current, ...t }), s, st);
    st = r.state;
    current = r.decision.desired;
    out.push(r.decision);
  }
  return { decisions: out, state: st };
}

describe('decide: steady state', () => {
  it('keeps ceil(stable / target) replicas', () => {
    const s = settings();
    expect(s.target).toBeCloseTo(7);
    const d = decide(input({ readyReplicas: 2, currentDesired: 2, stable: 14, panic: 14 }), s, initialDeciderState());
    expect(d.decision).toMatchObject({ desired: 2, panic: false, reason: 'stable' });
    // 15 / 7 = 2.14 → 3
    expect(decide(input({ readyReplicas: 2, currentDesired: 2, stable: 15, panic: 15 }), s, initialDeciderState()).decision.desired).toBe(3);
  });
});

describe('decide: panic', () => {
  const s = settings();

  it('enters panic when the panic window wants twice the ready replicas and scales to the panic want', () => {
    // ceil(21 / 7) = 3 ≥ 2 × 1 ready → panic; stable wants ceil(5 / 7) = 1; panic picks the larger: 3.
    const d = decide(input({ readyReplicas: 1, stable: 5, panic: 21 }), s, initialDeciderState());
    expect(d.decision).toMatchObject({ desired: 3, panic: true, reason: 'panic' });
    expect(d.state.panicSince).toBe(1_000_000);
  });

  it('does not panic just under the threshold', () => {
    // ceil(13.9 / 7) = 2, 2 / 2 ready = 1 < 2
    const d = decide(input({ readyReplicas: 2, currentDesired: 2, stable: 13.9, panic: 13.9 }), s, initialDeciderState());
    expect(d.decision.panic).toBe(false);
  });

  it('panics from zero ready replicas when the panic want is 2 or more (ready counts as 1)', () => {
    expect(decide(input({ readyReplicas: 0, currentDesired: 1, panic: 7, stable: 1 }), s, initialDeciderState()).decision.panic).toBe(false);
    const d = decide(input({ readyReplicas: 0, currentDesired: 1, panic: 14, stable: 1 }), s, initialDeciderState());
    expect(d.decision).toMatchObject({ panic: true, desired: 2 });
  });

  it('never scales down while panicking, and leaves panic one stable window after the last over-threshold tick', () => {
    const t = (sec: number) => 1_000_000 + sec * 1000;
    const { decisions } = run(s, [
      { now: t(0), readyReplicas: 1, currentDesired: 1, stable: 5, panic: 21 }, // panic → 3
      { now: t(2), readyReplicas: 3, stable: 8, panic: 35 }, // 5 / 3 < 2: not over, but still panicking → 5
      { now: t(4), readyReplicas: 3, stable: 8, panic: 42 }, // ceil(42/7)=6, 6/3 = 2 → over again (last over = t4) → 6
      { now: t(6), readyReplicas: 6, stable: 7, panic: 7 }, // wants 1 → held at 6
      { now: t(64), readyReplicas: 6, stable: 7, panic: 7 }, // exactly 60 s after t4: still panicking
      { now: t(66), readyReplicas: 6, stable: 7, panic: 7 }, // more than 60 s: stable mode; floor(6/2)=3 rate limit
    ]);
    expect(decisions.map((d) => [d.desired, d.panic, d.reason])).toEqual([
      [3, true, 'panic'],
      [5, true, 'panic'],
      [6, true, 'panic'],
      [6, true, 'panic-hold'],
      [6, true, 'panic-hold'],
      [3, false, 'stable'],
    ]);
  });
});

describe('decide: rate limits', () => {
  it('grows at most maxScaleUpRate × ready per decision (at least one replica)', () => {
    const s = settings({}, { maxScaleUpRate: 2 });
    // wants ceil(70/7) = 10; limit ceil(2 × 2) = 4 (panic window calm so stable mode)
    expect(decide(input({ readyReplicas: 2, currentDesired: 2, stable: 70, panic: 7 }), s, initialDeciderState()).decision.desired).toBe(4);
    // a slow rate still moves: ceil(1.1 × 2) = 3
    const slow = settings({}, { maxScaleUpRate: 1.1 });
    expect(decide(input({ readyReplicas: 2, currentDesired: 2, stable: 70, panic: 7 }), slow, initialDeciderState()).decision.desired).toBe(3);
  });

  it('shrinks at most to ready / maxScaleDownRate per decision', () => {
    const s = settings();
    const d = decide(input({ readyReplicas: 8, currentDesired: 8, stable: 0, panic: 0 }), s, initialDeciderState());
    expect(d.decision).toMatchObject({ desired: 4, reason: 'stable' });
    // then 4 → 2 → 1: zero is reached only through the grace period
    expect(decide(input({ readyReplicas: 4, currentDesired: 4 }), s, initialDeciderState()).decision.desired).toBe(2);
    expect(decide(input({ readyReplicas: 2, currentDesired: 2 }), s, initialDeciderState()).decision.desired).toBe(1);
  });
});

describe('decide: bounds', () => {
  it('applies min and max scale', () => {
    const s = settings({ minReplicas: 2, maxReplicas: 3 });
    expect(decide(input({ readyReplicas: 2, currentDesired: 2 }), s, initialDeciderState()).decision).toMatchObject({
      desired: 2,
      reason: 'min-scale',
    });
    expect(decide(input({ readyReplicas: 2, currentDesired: 2, stable: 70, panic: 7 }), s, initialDeciderState()).decision).toMatchObject({
      desired: 3,
      reason: 'max-scale',
    });
  });

  it('applies activation scale as the least non-zero scale, and lets zero stay zero', () => {
    const s = settings({ activationScale: 3 });
    expect(decide(input({ readyReplicas: 0, currentDesired: 0, stable: 1, panic: 1 }), s, initialDeciderState()).decision).toMatchObject({
      desired: 3,
      reason: 'activation-scale',
    });
    expect(decide(input({ readyReplicas: 0, currentDesired: 0 }), s, initialDeciderState()).decision).toMatchObject({
      desired: 0,
      reason: 'idle',
    });
  });

  it('resolves initial scale and activation scale from the spec', () => {
    expect(settings().initialScale).toBe(1);
    expect(settings({ initialScale: 0 }).initialScale).toBe(0);
    expect(settings({ activationScale: 0 }).activationScale).toBe(1);
    expect(settings({ minReplicas: 200 }).minScale).toBe(100); // capped by the default max of 100
  });
});

describe('decide: scale to zero', () => {
  const t = (sec: number) => 2_000_000 + sec * 1000;

  it('removes the last replica only after the grace period of zero recommendations', () => {
    const s = settings();
    const { decisions } = run(s, [
      { now: t(0), readyReplicas: 1, currentDesired: 1 },
      { now: t(28), readyReplicas: 1 },
      { now: t(30), readyReplicas: 1 },
      { now: t(32), readyReplicas: 0 },
    ]);
    expect(decisions.map((d) => [d.desired, d.reason])).toEqual([
      [1, 'scale-to-zero-grace'],
      [1, 'scale-to-zero-grace'],
      [0, 'scale-to-zero'],
      [0, 'idle'],
    ]);
  });

  it('keeps the last replica for the retention period when it is longer than the grace', () => {
    const s = settings({ scaleToZeroRetentionSeconds: 60 });
    const { decisions } = run(s, [
      { now: t(0), readyReplicas: 1, currentDesired: 1 },
      { now: t(30), readyReplicas: 1 },
      { now: t(58), readyReplicas: 1 },
      { now: t(60), readyReplicas: 1 },
    ]);
    expect(decisions.map((d) => [d.desired, d.reason])).toEqual([
      [1, 'scale-to-zero-grace'],
      [1, 'retention'],
      [1, 'retention'],
      [0, 'scale-to-zero'],
    ]);
  });

  it('never removes a replica within a stable window plus the grace of the last request, however long zero was recommended', () => {
    const s = settings();
    // Zero recommended since t(0) (the revision sat at zero); a request woke it at t(600) and was served at
    // t(600.2), before any window held it. The ticks still see an empty stable window.
    const state = { ...initialDeciderState(), zeroSince: t(0) };
    const at = (sec: number) => decide(input({ now: t(sec), readyReplicas: 1, currentDesired: 1, lastActiveAt: t(600.2) }), s, state).decision;
    expect(at(600.6)).toMatchObject({ desired: 1, reason: 'scale-to-zero-grace' });
    expect(at(690.1)).toMatchObject({ desired: 1, reason: 'scale-to-zero-grace' });
    expect(at(690.2)).toMatchObject({ desired: 0, reason: 'scale-to-zero' });
  });

  it('starts the grace period over when demand returns', () => {
    const s = settings();
    const { decisions } = run(s, [
      { now: t(0), readyReplicas: 1, currentDesired: 1 },
      { now: t(20), readyReplicas: 1, stable: 1, panic: 1 },
      { now: t(40), readyReplicas: 1 },
      { now: t(60), readyReplicas: 1 },
      { now: t(70), readyReplicas: 1 },
    ]);
    expect(decisions.map((d) => d.desired)).toEqual([1, 1, 1, 1, 0]);
  });

  it('gives GPU revisions a 10-minute default retention and respects minReplicas', () => {
    expect(settings({}, { gpus: { 'nvidia.com/gpu': 1 } }).scaleToZeroRetentionMs).toBe(600_000);
    expect(settings({ scaleToZeroRetentionSeconds: 5 }, { gpus: { 'nvidia.com/gpu': 1 } }).scaleToZeroRetentionMs).toBe(5_000);
    expect(settings().scaleToZeroRetentionMs).toBe(0);
    const s = settings({ minReplicas: 1 });
    const { decisions } = run(s, [
      { now: t(0), readyReplicas: 1, currentDesired: 1 },
      { now: t(100), readyReplicas: 1 },
    ]);
    expect(decisions.map((d) => [d.desired, d.reason])).toEqual([
      [1, 'min-scale'],
      [1, 'min-scale'],
    ]);
  });

  it('wakes a revision at zero for a waiting request', () => {
    const d = decide(input({ readyReplicas: 0, currentDesired: 0, waiting: 1 }), settings(), initialDeciderState());
    expect(d.decision).toMatchObject({ desired: 1, reason: 'poke' });
  });
});

describe('decide: scale-down delay', () => {
  it('holds the highest recommendation of the delay window', () => {
    const s = settings({ scaleDownDelaySeconds: 10 });
    const t = (sec: number) => 3_000_000 + sec * 1000;
    const { decisions, state } = run(s, [
      { now: t(0), readyReplicas: 4, currentDesired: 4, stable: 28, panic: 28 }, // 4
      { now: t(2), readyReplicas: 4, stable: 7, panic: 7 }, // wants 1, rate-limited to 2, held at 4
      { now: t(8), readyReplicas: 4, stable: 7, panic: 7 },
      { now: t(10), readyReplicas: 4, stable: 7, panic: 7 }, // t0 left the window → 2
    ]);
    expect(decisions.map((d) => [d.desired, d.reason])).toEqual([
      [4, 'stable'],
      [4, 'scale-down-delay'],
      [4, 'scale-down-delay'],
      [2, 'stable'],
    ]);
    expect(state.recent.length).toBeLessThanOrEqual(10);
  });

  it('keeps one entry per second however many decisions fall in it', () => {
    const s = settings({ scaleDownDelaySeconds: 10 });
    let st = initialDeciderState();
    for (let i = 0; i < 100; i++) st = decide(input({ now: 5_000_000 + i, stable: 7, panic: 7 }), s, st).state;
    expect(st.recent).toHaveLength(1);
  });
});

describe('decide: restart', () => {
  it('does not scale running replicas down before a full stable window of data', () => {
    const s = settings();
    const early = decide(input({ readyReplicas: 3, currentDesired: 3, observedMs: 10_000 }), s, initialDeciderState());
    expect(early.decision).toMatchObject({ desired: 3, reason: 'warming-up' });
    const late = decide(input({ readyReplicas: 3, currentDesired: 3, observedMs: 60_000 }), s, initialDeciderState());
    expect(late.decision).toMatchObject({ desired: 1, reason: 'stable' });
    // it may still scale up on partial data
    const up = decide(input({ readyReplicas: 3, currentDesired: 3, observedMs: 10_000, stable: 35, panic: 35 }), s, initialDeciderState());
    expect(up.decision.desired).toBe(5);
  });
});

describe('decide: rps', () => {
  it('scales on request rate with the rps target (default 200 × 70 %)', () => {
    const s = deciderSettings(autoscalingSpec({ metric: 'rps' }), 10);
    expect(s.metric).toBe('rps');
    expect(s.target).toBeCloseTo(140);
    expect(decide(input({ stable: 300, panic: 300, readyReplicas: 2, currentDesired: 2 }), s, initialDeciderState()).decision.desired).toBe(3);
    const own = deciderSettings(autoscalingSpec({ metric: 'rps', target: 50, targetUtilizationPercent: 100 }), 10);
    // rps target is not capped by containerConcurrency
    expect(own.target).toBe(50);
    expect(decide(input({ stable: 120, panic: 120, readyReplicas: 3, currentDesired: 3 }), own, initialDeciderState()).decision.desired).toBe(3);
  });
});

describe('decide: excess burst capacity', () => {
  it('is -1 with target burst capacity -1, 0 with 0, and spare capacity otherwise', () => {
    const base = input({ readyReplicas: 30, currentDesired: 30, stable: 50, panic: 50.5 });
    expect(decide(base, settings({ targetBurstCapacity: -1 }), initialDeciderState()).decision.excessBurstCapacity).toBe(-1);
    expect(decide(base, settings({ targetBurstCapacity: 0 }), initialDeciderState()).decision.excessBurstCapacity).toBe(0);
    // 30 × 10 − 211 − 50.5 = 38.5 → 38
    expect(decide(base, settings(), initialDeciderState()).decision.excessBurstCapacity).toBe(38);
    // no ready replica: negative, the activator stays in the path
    expect(decide(input({ readyReplicas: 0, currentDesired: 1 }), settings(), initialDeciderState()).decision.excessBurstCapacity).toBe(-211);
  });
});
