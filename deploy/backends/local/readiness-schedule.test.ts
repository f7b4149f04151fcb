import { describe, expect, it } from 'vitest';
import { ReadinessSchedule } from './readiness-schedule.js';

const TIMING = { intervalMs: 50, fastIntervalMs: 10 };

describe('ReadinessSchedule', () => {
  it('probes every intervalMs while nobody waits', () => {
    const s = new ReadinessSchedule(TIMING, 1_000);
    s.begin(1_000);
    expect(s.failed(1_001, false)).toBe(1_051);
    s.begin(1_051);
    expect(s.failed(1_052, false)).toBe(1_102);
  });

  it('while requests wait, probes every fastIntervalMs, backing off to 1 % of the start-up so far, at most intervalMs', () => {
    const s = new ReadinessSchedule(TIMING, 0);
    expect(s.period(5, true)).toBe(10);
    expect(s.period(999, true)).toBe(10);
    expect(s.period(2_000, true)).toBe(20);
    expect(s.period(4_000, true)).toBe(40);
    expect(s.period(60_000, true)).toBe(50);
    s.begin(2_000);
    expect(s.failed(2_001, true)).toBe(2_021);
  });

  it('a line of output asks for a probe at once, but not sooner than fastIntervalMs after the last one began', () => {
    const s = new ReadinessSchedule(TIMING, 0);
    expect(s.output(0, null)).toBe(0); // nothing probed yet
    s.begin(100);
    s.failed(101, false); // next due at 151
    expect(s.output(104, 151)).toBe(110);
    expect(s.output(130, 151)).toBe(130);
    expect(s.output(130, 120)).toBeNull(); // a sooner probe is already planned
  });

  it('a line while a probe is in flight asks for one more right after it, instead of the period', () => {
    const s = new ReadinessSchedule(TIMING, 0);
    s.begin(100);
    expect(s.output(101, null)).toBeNull();
    expect(s.failed(103, false)).toBe(110);
    // The extra probe is owed once.
    s.begin(110);
    expect(s.failed(112, false)).toBe(162);
  });
});
