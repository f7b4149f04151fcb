import { describe, expect, it } from 'vitest';
import { WeightedPicker } from '../../load-tests/forwarders/weighted-picker.js';
import { median, percentileOfSorted } from '../../load-tests/harness/stats.js';

describe('WeightedPicker', () => {
  it('gives exactly 9 of every 10 picks to the weight-9 target, spreading the weight-1 target out', () => {
    const picker = new WeightedPicker(['primary', 'canary'], [9, 1]);
    const picks = Array.from({ length: 100 }, () => picker.pick());
    expect(picks.filter((p) => p === 'canary')).toHaveLength(10);
    for (let i = 0; i < 100; i += 10) {
      expect(picks.slice(i, i + 10).filter((p) => p === 'canary')).toHaveLength(1);
    }
  });

  it('refuses mismatched or non-positive weights', () => {
    expect(() => new WeightedPicker(['a'], [1, 2])).toThrow(/one weight per target/);
    expect(() => new WeightedPicker(['a', 'b'], [1, 0])).toThrow(/positive/);
  });
});

describe('stats', () => {
  it('takes medians and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentileOfSorted(sorted, 0.5)).toBe(50);
    expect(percentileOfSorted(sorted, 0.99)).toBe(99);
    expect(percentileOfSorted(sorted, 1)).toBe(100);
  });
});
