import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prom-text.js';
import { countersFromMetrics, quantileBetween, renderTop, TopHistory } from './top.js';

const LABELS = 'namespace="default",service="iris",revision="iris-predictor-00001"';

/** A scrape with `requests` answered (all 200), spread over the buckets given as cumulative counts. */
function scrape(o: { requests: number; buckets: Array<[string, number]>; inflight?: number; held?: number; cold?: number }): string {
  return [
    '# HELP sluice_requests_total Requests answered.',
    '# TYPE sluice_requests_total counter',
    `sluice_requests_total{${LABELS},code="200"} ${o.requests}`,
    ...o.buckets.map(([le, n]) => `sluice_request_duration_seconds_bucket{${LABELS},le="${le}"} ${n}`),
    `sluice_inflight_requests{${LABELS}} ${o.inflight ?? 0}`,
    `sluice_activator_held_requests{${LABELS}} ${o.held ?? 0}`,
    `sluice_cold_starts_total{${LABELS}} ${o.cold ?? 0}`,
    'process_cpu_seconds_total 12.5',
  ].join('\n');
}

const SERVICE = {
  metadata: { name: 'iris', namespace: 'default' },
  status: { revisions: [{ name: 'iris-predictor-00001', trafficPercent: 100, readyReplicas: 1, desiredReplicas: 2 }] },
};

describe('sluice top', () => {
  it('reads the text format: labels with escapes, +Inf, and only the names asked for', () => {
    const samples = parsePrometheusText('# c\na{x="q\\"uote",le="+Inf"} 3 1700000000\nb 4\n', (n) => n === 'a');
    expect(samples).toEqual([{ name: 'a', labels: { x: 'q"uote', le: '+Inf' }, value: 3 }]);
  });

  it('interpolates a quantile inside its bucket, from the difference of two cumulative histograms', () => {
    const before = new Map([[0.01, 10], [0.1, 10], [Infinity, 10]]);
    // 100 new requests: 50 under 10 ms, 50 between 10 and 100 ms
    const after = new Map([[0.01, 60], [0.1, 110], [Infinity, 110]]);
    expect(quantileBetween(before, after, 0.5)).toBeCloseTo(10, 6);
    expect(quantileBetween(before, after, 0.99)).toBeCloseTo(10 + 90 * (49 / 50), 6);
    expect(quantileBetween(after, after, 0.5)).toBeNull();
  });

  it('gives req/s, p50/p99, in-flight, held, replicas and cold starts per revision from successive samples', () => {
    const h = new TopHistory();
    h.push({ at: 0, services: [SERVICE], revisions: countersFromMetrics(scrape({ requests: 0, buckets: [['0.005', 0], ['0.05', 0], ['+Inf', 0]], cold: 0 })) });
    expect(h.rows()[0]).toMatchObject({ requestsPerSecond: 0, p50Ms: null, coldStartsLastMinute: 0 });
    h.push({
      at: 2_000,
      services: [SERVICE],
      revisions: countersFromMetrics(scrape({ requests: 40, buckets: [['0.005', 20], ['0.05', 40], ['+Inf', 40]], inflight: 3, held: 2, cold: 1 })),
    });
    const [row] = h.rows();
    expect(row).toMatchObject({
      service: 'iris',
      revision: 'iris-predictor-00001',
      trafficPercent: 100,
      requestsPerSecond: 20,
      p50Ms: 5,
      inflight: 3,
      held: 2,
      readyReplicas: 1,
      desiredReplicas: 2,
      coldStartsLastMinute: 1,
    });
    const screen = renderTop(h.rows(), { server: 'http://127.0.0.1:8081', time: new Date(0), intervalS: 1 });
    expect(screen).toMatch(/iris-predictor-00001\s+100%\s+20\.0\s+5\.0/);
  });

  it('forgets cold starts older than a minute and keeps a bounded history', () => {
    const h = new TopHistory();
    const at = (t: number, cold: number): void =>
      h.push({ at: t, services: [SERVICE], revisions: countersFromMetrics(scrape({ requests: 0, buckets: [['+Inf', 0]], cold })) });
    at(0, 0);
    at(1_000, 1); // a cold start in the first second
    for (let t = 2_000; t <= 120_000; t += 1_000) at(t, 1);
    expect(h.rows()[0]!.coldStartsLastMinute).toBe(0);
    expect(h.size).toBeLessThanOrEqual(62);
  });
});
