import { describe, expect, it } from 'vitest';
import { arrivalOffsets, type ArrivalOutcome } from '../../load-tests/harness/open-loop.js';
import { latencyBetween, statusTotals, tallyPerSecond } from '../../load-tests/harness/outcome-tally.js';
import { sumSeries } from '../../load-tests/harness/prometheus-text.js';
import { medianOrNull } from '../../load-tests/harness/stats.js';

const outcome = (intended: number, done: number, status: number, recorded = true): ArrivalOutcome => ({ intended, sent: intended, done, status, recorded });

describe('load-test figures', () => {
  it('schedules arrivals phase by phase, each at its own rate', () => {
    expect([...arrivalOffsets([{ rate: 2, durationS: 1 }, { rate: 4, durationS: 0.5 }])]).toEqual([0, 500, 1000, 1250]);
    expect(arrivalOffsets([{ rate: 1000, durationS: 3 }])).toHaveLength(3000);
  });

  it('counts outcomes per second by completion time, and totals by status', () => {
    const outcomes = [
      outcome(0, 100, 200),
      outcome(0, 900, 503),
      outcome(1000, 1500, 0),
      outcome(1000, 1999, 404),
      outcome(0, 10, 500, false), // discarded warm-up: not counted
    ];
    expect(tallyPerSecond(outcomes, 0, 2)).toEqual([
      { second: 1, ok: 1, non2xx: 1, status5xx: 1, errors: 0 },
      { second: 2, ok: 0, non2xx: 1, status5xx: 0, errors: 1 },
    ]);
    const totals = statusTotals(outcomes);
    expect([totals.ok, totals.non2xx, totals.status5xx, totals.errors]).toEqual([1, 2, 1, 1]);
    expect([...totals.byStatus]).toEqual([[503, 1], [404, 1]]);
    expect(latencyBetween(outcomes, 0, 1000)).toEqual({ p50: 100, p99: 900, max: 900, count: 2 });
  });

  it('sums a metric over the series of one revision in Prometheus text', () => {
    const text = [
      '# HELP sluice_ready_replicas Replicas',
      '# TYPE sluice_ready_replicas gauge',
      'sluice_ready_replicas{namespace="default",service="a",revision="a-predictor-00001"} 3',
      'sluice_ready_replicas{namespace="default",service="a",revision="a-predictor-00002"} 1',
      'sluice_ready_replicas{namespace="default",service="a",old_revision="a-predictor-00001"} 7',
      'sluice_desired_replicas{namespace="default",service="a",revision="a-predictor-00001"} 4',
      'process_cpu_seconds_total 1.5',
    ].join('\n');
    const one = sumSeries(text, ['sluice_ready_replicas', 'sluice_desired_replicas', 'missing'], { revision: 'a-predictor-00001' });
    expect([...one]).toEqual([['sluice_ready_replicas', 3], ['sluice_desired_replicas', 4]]);
    expect(sumSeries(text, ['sluice_ready_replicas']).get('sluice_ready_replicas')).toBe(11);
    expect(sumSeries(text, ['process_cpu_seconds_total']).get('process_cpu_seconds_total')).toBe(1.5);
  });

  it('takes a median where a round that never reached its target ranks last', () => {
    expect(medianOrNull([300, 100, 200])).toBe(200);
    expect(medianOrNull([100, null, 200])).toBe(200);
    expect(medianOrNull([100, null])).toBeNull();
    expect(medianOrNull([])).toBeNull();
  });
});
