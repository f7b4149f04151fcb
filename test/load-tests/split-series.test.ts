import { describe, expect, it } from 'vitest';
import {
  countersAt,
  shareBetween,
  sharePerSecond,
  splitErrorPerSecond,
  staleTrafficEndsAfter,
  type CounterSample,
} from '../../load-tests/scenarios/split-series.js';

/** 100 requests per 100 ms: `canaryPer100` of them to the canary until `switchAt`, then `after`. */
function series(untilMs: number, canaryPer100: number, switchAt = Infinity, after = canaryPer100): CounterSample[] {
  const out: CounterSample[] = [{ t: 0, primary: 0, canary: 0 }];
  for (let t = 100; t <= untilMs; t += 100) {
    const prev = out[out.length - 1] as CounterSample;
    const c = t <= switchAt ? canaryPer100 : after;
    out.push({ t, primary: prev.primary + 100 - c, canary: prev.canary + c });
  }
  return out;
}

describe('canary split from sampled upstream counters', () => {
  it('interpolates counters between samples and holds the last one after them', () => {
    const s = series(1000, 10);
    expect(countersAt(s, 50)).toEqual({ primary: 45, canary: 5 });
    expect(countersAt(s, 5000)).toEqual({ primary: 900, canary: 100 });
    expect(countersAt(s, -1)).toBeUndefined();
  });

  it('gives the share over an interval and per second, and the error against a target in points', () => {
    const s = series(3000, 10);
    expect(shareBetween(s, 0, 3000)).toEqual({ share: 0.1, requests: 3000 });
    const perSecond = sharePerSecond(s, 0, 3);
    expect(perSecond.map((p) => p.requests)).toEqual([1000, 1000, 1000]);
    expect(splitErrorPerSecond(perSecond, 0.1).max).toBeCloseTo(0, 10);
    const off = sharePerSecond(series(2000, 12), 0, 2);
    expect(splitErrorPerSecond(off, 0.1).max).toBeCloseTo(2, 10);
    expect(splitErrorPerSecond([{ second: 1, requests: 0, share: Number.NaN }], 0.1).max).toBeNaN();
  });

  it('sees a promote: the canary takes everything from the switch on', () => {
    const s = series(2000, 10, 1000, 100);
    expect(shareBetween(s, 1000, 2000).share).toBe(1);
    expect(shareBetween(s, 0, 1000).share).toBeCloseTo(0.1, 10);
  });

  it('times how long the old target kept receiving after the call returned (upper bound, per sample)', () => {
    // the primary stops receiving at 1300 ms; the admin call returned at 1000 ms
    const promoted = series(3000, 10, 1300, 100);
    expect(staleTrafficEndsAfter(promoted, 1000, 3000, 'primary')).toBe(300);
    // switched before the call returned: nothing reaches the old target after it
    expect(staleTrafficEndsAfter(series(3000, 10, 900, 100), 1000, 3000, 'primary')).toBe(0);
    // still receiving at the end of the phase: never reached its target
    expect(staleTrafficEndsAfter(series(3000, 10), 1000, 3000, 'primary')).toBeNull();
    expect(staleTrafficEndsAfter(series(3000, 10, 1500, 0), 1000, 3000, 'canary')).toBe(500);
  });
});
