import { describe, expect, it } from 'vitest';
import { LATENCY_SKETCH_RELATIVE_ERROR, binValue, latencyBin, sketchQuantile } from './latency-sketch.js';

describe('latency sketch', () => {
  it('puts each latency in a bin whose value is within the relative error', () => {
    for (const ms of [0.2, 1, 3.7, 12, 99.9, 250, 1000, 45_000, 600_000]) {
      const v = binValue(latencyBin(ms));
      expect(Math.abs(v - ms) / ms).toBeLessThanOrEqual(LATENCY_SKETCH_RELATIVE_ERROR + 1e-9);
    }
    expect(latencyBin(0)).toBe(0);
    expect(latencyBin(-5)).toBe(0);
    expect(latencyBin(Number.NaN)).toBe(0);
    expect(latencyBin(1e15)).toBe(399);
  });

  it('reads the p99 of merged sketches as the exact p99 within the relative error', () => {
    // Two gateways: one saw 0..989 ms, the other 990..999 ms (the slow tail); the p99 of the union is 989 ms.
    const a = new Map<number, number>();
    const b = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const m = i < 990 ? a : b;
      const bin = latencyBin(i);
      m.set(bin, (m.get(bin) ?? 0) + 1);
    }
    const p99 = sketchQuantile([...a, ...b], 0.99)!;
    expect(Math.abs(p99 - 989) / 989).toBeLessThanOrEqual(LATENCY_SKETCH_RELATIVE_ERROR + 1e-9);
    expect(sketchQuantile([], 0.99)).toBeNull();
    expect(sketchQuantile([[latencyBin(5), 1]], 0.99)).toBeCloseTo(binValue(latencyBin(5)));
  });
});
