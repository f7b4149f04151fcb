import { describe, expect, it } from 'vitest';
import { pairedRounds, pairedRoundsLine } from '../../load-tests/report/tables.js';
import type { Measurements, RoundResult } from '../../load-tests/scenarios/measure.js';

const round = (throughput: number, cpuPerRequestUs: number, p50: number): RoundResult =>
  ({ throughput, cpuPerRequestUs, latency: { p50, p90: p50, p99: p50, max: p50 } }) as unknown as RoundResult;

describe('pairedRounds: one system against another, compared within each round', () => {
  it('takes the median and range of the per-round ratios, not the ratio of the medians', () => {
    // A machine that drifts between rounds: the base is slow in round 2, and so is the other system.
    const m: Measurements = new Map([
      ['sluice', [round(20_000, 40, 0.3), round(10_000, 80, 0.6), round(22_000, 38, 0.3)]],
      ['sluice-limits', [round(19_000, 41, 0.31), round(9_800, 81, 0.62), round(21_560, 39.5, 0.3)]],
    ]);
    const p = pairedRounds(m, 'sluice', 'sluice-limits')!;
    expect(p.rounds).toBe(3);
    expect(p.throughputRatio.median).toBeCloseTo(0.98, 6);
    expect(p.throughputRatio.min).toBeCloseTo(0.95, 6);
    expect(p.throughputRatio.max).toBeCloseTo(0.98, 6);
    expect(p.cpuDeltaUs).toEqual({ median: 1, min: 1, max: 1.5 });
    expect(p.p50DeltaMs.median).toBeCloseTo(0.01, 6);
    expect(pairedRoundsLine(p, 'sluice', 'sluice-limits', 'saturated')).toBe(
      'Round by round (3 rounds), sluice-limits against sluice in the same round: throughput 98.0 % (95.0 % to 98.0 %), CPU per request +1.0 µs (+1.0 to +1.5).',
    );
  });

  it('is null when either system has no rounds', () => {
    expect(pairedRounds(new Map([['sluice', [round(1, 1, 1)]]]), 'sluice', 'sluice-limits')).toBeNull();
  });
});
