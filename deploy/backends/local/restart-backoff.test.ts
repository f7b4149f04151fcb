import { describe, expect, it } from 'vitest';
import { RestartBackoff } from './restart-backoff.js';

describe('RestartBackoff', () => {
  it('doubles from the initial delay up to the maximum', () => {
    const b = new RestartBackoff({ initialMs: 200, maxMs: 10_000, resetAfterMs: 30_000 });
    const delays = [0, 1, 2, 3, 4, 5, 6, 7].map(() => b.failed(1_000, 0));
    expect(delays).toEqual([200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]);
    expect(b.failures).toBe(8);
  });

  it('holds starts back until the delay has passed', () => {
    const b = new RestartBackoff({ initialMs: 200, maxMs: 10_000, resetAfterMs: 30_000 });
    expect(b.waitMs(0)).toBe(0);
    b.failed(1_000, 0);
    expect(b.waitMs(1_050)).toBe(150);
    expect(b.waitMs(1_200)).toBe(0);
  });

  it('starts over after a replica stayed ready for the reset period', () => {
    const b = new RestartBackoff({ initialMs: 200, maxMs: 10_000, resetAfterMs: 30_000 });
    b.failed(0, 0);
    b.failed(0, 0);
    expect(b.failed(0, 29_999)).toBe(800);
    expect(b.failed(0, 30_000)).toBe(200);
  });
});
