import { describe, expect, it } from 'vitest';
import { parseDurationSeconds } from './duration.js';

describe('parseDurationSeconds', () => {
  it.each([
    ['60s', 60],
    ['1m30s', 90],
    ['1h', 3600],
    ['500ms', 0.5],
    ['1.5s', 1.5],
    ['0', 0],
    ['0s', 0],
  ])('%s → %d s', (text, seconds) => {
    expect(parseDurationSeconds(text)).toBeCloseTo(seconds, 9);
  });

  it.each(['', '60', 's', '1d', '-5s', '1m 30s', 'abc'])('rejects %j', (text) => {
    expect(parseDurationSeconds(text)).toBeNull();
  });
});
