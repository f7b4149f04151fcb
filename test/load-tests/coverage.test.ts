import { describe, expect, it } from 'vitest';
import { overProvisioning, replicasNeeded, timeToCover, type ReplicaSample } from '../../load-tests/scenarios/coverage.js';
import { stepTimeline } from '../../load-tests/scenarios/step-spike.js';

const samples = (ready: number[], everyMs = 250): ReplicaSample[] => ready.map((r, i) => ({ t: i * everyMs, ready: r }));

describe('step-and-spike coverage', () => {
  it('needs whole replicas at full use, at least one', () => {
    expect(replicasNeeded(384, 80)).toBe(5);
    expect(replicasNeeded(400, 80)).toBe(5);
    expect(replicasNeeded(576, 80)).toBe(8);
    expect(replicasNeeded(1, 80)).toBe(1);
    expect(() => replicasNeeded(10, 0)).toThrow(/perReplicaRps/);
  });

  it('times the first sample at or after the change with enough ready replicas', () => {
    const s = samples([1, 1, 2, 2, 4, 5, 5, 6]);
    expect(timeToCover(s, 250, 2000, 5)).toBe(1000); // ready 5 first seen at 1250 ms
    expect(timeToCover(s, 250, 1000, 5)).toBeNull(); // not by 1000 ms
    expect(timeToCover(s, 1300, 2000, 5)).toBe(0); // the sample just before the change already had 5
    expect(timeToCover(s, 300, 2000, 9)).toBeNull();
  });

  it('averages ready replicas over time (each sample holds until the next) per replica needed', () => {
    // 4 replicas for 1 s, then 6 for 1 s; 5 needed
    const s: ReplicaSample[] = [
      { t: 0, ready: 4 },
      { t: 1000, ready: 6 },
      { t: 3000, ready: 6 },
    ];
    expect(overProvisioning(s, 0, 2000, 5)).toBeCloseTo(1, 10);
    expect(overProvisioning(s, 500, 1000, 4)).toBeCloseTo(1, 10);
    expect(overProvisioning(s, 1500, 2500, 4)).toBeCloseTo(1.5, 10);
    expect(overProvisioning([], 0, 1000, 5)).toBeNaN();
  });

  it('lays the phases out from --duration', () => {
    const t = stepTimeline(10, { base: 64, step: 384, spike: 576 });
    expect(t.phases.map((p) => [p.rate, p.durationS])).toEqual([[64, 5], [384, 15], [576, 5], [384, 10]]);
    expect([t.stepAt, t.spikeAt, t.backAt, t.endAt]).toEqual([5000, 20_000, 25_000, 35_000]);
    expect(stepTimeline(2, { base: 1, step: 2, spike: 3 }).phases.map((p) => p.durationS)).toEqual([3, 3, 2, 2]);
  });
});
