/**
 * The latency report's table (load-tests/report/tables.ts): besides the median p99 over rounds it lists each
 * round's, since one round's tail can be ten times the next one's and the median alone hides that.
 */
import { describe, expect, it } from 'vitest';
import { latencyTable, summarise } from '../../load-tests/report/tables.js';
import type { Measurements, RoundResult } from '../../load-tests/scenarios/measure.js';

const round = (p50: number, p99: number): RoundResult =>
  ({
    throughput: 15_000,
    errors: 0,
    non2xx: 0,
    canaryShare: Number.NaN,
    cpuPerRequestUs: 40,
    syscallsPerRequest: 6,
    latency: { p50, p90: p50, p99, max: p99 },
    serviceLatency: { p50, p90: p50, p99, max: p99 },
  }) as unknown as RoundResult;

describe('latencyTable', () => {
  it('shows the median p99 and every round p99 in round order, and the added p99 from the medians', () => {
    const m: Measurements = new Map([
      ['direct', [round(0.1, 0.7), round(0.1, 0.6), round(0.1, 1.0)]],
      ['sluice', [round(0.17, 4.97), round(0.17, 21.02), round(0.23, 50.71)]],
    ]);
    const table = latencyTable(summarise(m), new Set());
    const sluice = table.split('\n').find((l) => l.startsWith('| sluice |'))!;
    const cells = sluice.split('|').map((c) => c.trim());
    expect(cells[5]).toBe('21.02');
    expect(cells[6]).toBe('4.97 / 21.02 / 50.71');
    expect(cells[8]).toBe('+20.32');
    expect(table).toContain('| p99 ms | p99 by round ms | added p50 ms |');
  });
});
