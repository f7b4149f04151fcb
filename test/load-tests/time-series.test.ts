/**
 * The saturation and forwarders reports draw a time-series chart only when a round has per-second counts: wrk
 * (the default closed-loop generator) reports totals only, and its runs had been drawing an empty chart.
 */
import { describe, expect, it } from 'vitest';
import { hasTimeSeries } from '../../load-tests/report/tables.js';
import type { Measurements, RoundResult } from '../../load-tests/scenarios/measure.js';

const round = (perSecond: number[]): RoundResult => ({ throughput: 1, perSecond }) as unknown as RoundResult;

describe('hasTimeSeries', () => {
  it('is false for wrk rounds (no per-second counts) and for no rounds at all', () => {
    expect(hasTimeSeries(new Map([['nginx', [round([])]], ['sluice', [round([]), round([])]]]))).toBe(false);
    expect(hasTimeSeries(new Map([['sluice', []]]))).toBe(false);
  });

  it("is true when any system's last round has per-second counts", () => {
    const m: Measurements = new Map([
      ['nginx', [round([])]],
      ['sluice', [round([]), round([900, 1000])]],
    ]);
    expect(hasTimeSeries(m)).toBe(true);
    // Only the last round is drawn: counts in an earlier one do not make a chart.
    expect(hasTimeSeries(new Map([['sluice', [round([900]), round([])]]]))).toBe(false);
  });
});
