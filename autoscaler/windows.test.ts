import { describe, expect, it } from 'vitest';
import type { MetricBucket } from '../core/store.js';
import { windowAverages } from './windows.js';

function series(from: number, values: number[]): MetricBucket[] {
  return values.map((v, i) => ({ second: from + i, concurrency: v, requests: v * 2 }));
}

describe('windowAverages', () => {
  it('averages the stable and panic windows, counting missing seconds as zero', () => {
    const b = series(40, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]); // seconds 40..59
    const w = windowAverages(b.filter((x) => x.concurrency > 0), 'concurrency', 60, 20, 5, 0);
    expect(w.stable).toBeCloseTo(0.5);
    expect(w.panic).toBeCloseTo(1);
    expect(w.lastActiveSecond).toBe(59);
    expect(windowAverages(b, 'rps', 60, 20, 5, 0).panic).toBeCloseTo(2);
  });

  it('averages a young series over the seconds it covers', () => {
    const w = windowAverages(series(55, [4, 4, 4, 4, 4]), 'concurrency', 60, 60, 6, 55);
    expect(w.stable).toBeCloseTo(4);
    expect(w.panic).toBeCloseTo(4);
  });

  it('uses store data older than the registration instead of over-counting it', () => {
    const w = windowAverages(series(0, new Array(60).fill(2)), 'concurrency', 60, 60, 6, 50);
    expect(w.stable).toBeCloseTo(2);
  });

  it('weighted-exponential equals linear on a flat series and follows a rising one sooner', () => {
    const flat = series(0, new Array(60).fill(3));
    expect(windowAverages(flat, 'concurrency', 60, 60, 6, 0, 'weighted-exponential').stable).toBeCloseTo(3);
    const rising = series(0, Array.from({ length: 60 }, (_, i) => i / 10));
    const lin = windowAverages(rising, 'concurrency', 60, 60, 6, 0, 'linear').stable;
    const exp = windowAverages(rising, 'concurrency', 60, 60, 6, 0, 'weighted-exponential').stable;
    expect(lin).toBeCloseTo(2.95);
    expect(exp).toBeGreaterThan(lin + 0.5);
    expect(exp).toBeLessThan(5.9);
    // a young flat series is not under-counted either
    expect(windowAverages(series(50, new Array(10).fill(3)), 'concurrency', 60, 60, 6, 50, 'weighted-exponential').stable).toBeCloseTo(3);
  });
});
