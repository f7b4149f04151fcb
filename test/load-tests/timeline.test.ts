import { describe, expect, it } from 'vitest';
import { parseTimeline, slowWindows } from '../../load-tests/timeline.js';

describe('fixed-rate timeline', () => {
  const text = [
    '# due_ms latency_ms service_ms connection new_connection',
    '0.000 0.300 0.200 0 1',
    '10.000 0.400 0.300 0 0',
    '60.000 12.000 11.000 1 1',
    '70.000 3.000 2.000 0 0',
    '120.000 0.500 0.400 0 0',
    '',
  ].join('\n');

  it('reads each request, and lists only the windows whose worst latency is over the threshold', () => {
    const rows = parseTimeline(text);
    expect(rows.map((r) => [r.dueMs, r.latencyMs, r.newConnection])).toEqual([
      [0, 0.3, true],
      [10, 0.4, false],
      [60, 12, true],
      [70, 3, false],
      [120, 0.5, false],
    ]);
    expect(slowWindows(rows, 50, 5)).toEqual([{ startMs: 50, requests: 2, worstMs: 12, over: 1, newConnections: 1 }]);
    expect(slowWindows(rows, 50, 20)).toEqual([]);
  });

  it('names the line it cannot read', () => {
    expect(() => parseTimeline('# header\n1 2 3\n')).toThrow(/line 2: expected 5 numbers/);
    expect(() => parseTimeline('1 2 x 0 0\n')).toThrow(/line 1/);
  });
});
