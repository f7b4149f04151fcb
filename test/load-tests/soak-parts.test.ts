import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { stackedLineChart } from '../../load-tests/report/svg.js';
import { planOf, startAbortLoad } from '../../load-tests/soak/abort-load.js';
import { sumOfSeries } from '../../load-tests/soak/metrics-text.js';
import { ReplicaTracker } from '../../load-tests/soak/replica-tracker.js';
import { soakPlan } from '../../load-tests/soak/soak-plan.js';

describe('soak plan', () => {
  it('runs 10 × duration with a kill every 1.5 × duration, none in the last half interval', () => {
    const plan = soakPlan({ durationS: 10, rate: undefined });
    expect(plan.loadS).toBe(100);
    expect(plan.killsAtS).toEqual([15, 30, 45, 60, 75, 90]);
    expect(plan.rate).toBe(200);
    const long = soakPlan({ durationS: 60, rate: 50 });
    expect(long.loadS).toBe(600);
    expect(long.killsAtS).toEqual([90, 180, 270, 360, 450, 540]);
    expect(long.rate).toBe(50);
  });

  it('aborts exactly one request in abortEvery, alternating before-headers and mid-body', () => {
    const plans = Array.from({ length: 100 }, (_, i) => planOf(i, 10));
    expect(plans.filter((p) => p !== 'complete')).toHaveLength(10);
    expect(plans[9]).toBe('abort-before-headers');
    expect(plans[19]).toBe('abort-mid-body');
    expect(plans[29]).toBe('abort-before-headers');
    expect(planOf(9, 0)).toBe('complete');
  });
});

describe('metrics text', () => {
  it('sums every series of one metric and ignores longer names that share its prefix', () => {
    const text = [
      '# HELP sluice_inflight_requests Requests in the gateway now',
      'sluice_inflight_requests{namespace="default",service="a",revision="a-1"} 2',
      'sluice_inflight_requests{namespace="default",service="b",revision="b-1"} 3',
      'sluice_inflight_requests_total 99',
      'nodejs_eventloop_lag_p99_seconds 0.0125',
    ].join('\n');
    expect(sumOfSeries(text, 'sluice_inflight_requests')).toBe(5);
    expect(sumOfSeries(text, 'nodejs_eventloop_lag_p99_seconds')).toBe(0.0125);
    expect(sumOfSeries(text, 'sluice_activator_held_requests')).toBeUndefined();
  });
});

describe('replica tracker', () => {
  const line = (time: number, msg: string, extra: Record<string, unknown>) => ({ time, msg, ...extra });

  it('matches a kill with the failure sluice logged and the replacement that became ready', () => {
    const tracker = new ReplicaTracker();
    tracker.observe(line(1, 'replica starting', { replica: 'r#1', pid: 101, url: 'http://127.0.0.1:1' }));
    tracker.observe(line(2, 'replica starting', { replica: 'r#2', pid: 102, url: 'http://127.0.0.1:2' }));
    tracker.observe(line(3, '{"msg":"ready"}', { replica: 'r#2', pid: 102, stream: 'stdout' })); // the replica's own line
    tracker.observe(line(5, 'replica ready', { replica: 'r#2' }));
    tracker.observe(line(6, 'replica ready', { replica: 'r#1' }));
    expect(tracker.ready().map((r) => [r.id, r.pid])).toEqual([['r#2', 102], ['r#1', 101]]);
    tracker.recordKill(tracker.ready()[0]!, 10);
    tracker.observe(line(11, 'replica failed', { replica: 'r#2', reason: 'crashed: killed by SIGKILL' }));
    expect(tracker.ready().map((r) => r.id)).toEqual(['r#1']);
    tracker.observe(line(12, 'replica starting', { replica: 'r#3', pid: 103 }));
    tracker.observe(line(13, 'replica ready', { replica: 'r#3' }));
    expect(tracker.kills()).toEqual([
      { at: 10, replica: 'r#2', pid: 102, failedAt: 11, failedHow: 'crashed: killed by SIGKILL', replacement: 'r#3', restoredAt: 13 },
    ]);
  });
});

describe('stacked chart with bands', () => {
  it('stacks one panel per unit on one time axis, with a marker line in every panel', () => {
    const svg = stackedLineChart({
      title: 'soak <run>',
      xLabel: 's',
      panels: [
        { yLabel: 'MiB', series: [{ name: 'RSS', points: [[-2, 100], [0, 110], [10, 112]] }] },
        { yLabel: 'fds', series: [{ name: 'fds', points: [[0, 30], [10, Number.NaN], [20, 31]] }] },
      ],
      markers: [{ x: 5, label: 'kill 1' }],
      bands: [{ from: 0, to: 2, label: 'warm-up' }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('soak &lt;run&gt;');
    expect(svg.match(/<path d=/g)).toHaveLength(2);
    expect(svg.match(/stroke-dasharray="4 3"/g)).toHaveLength(2); // the marker, once per panel
    expect(svg.match(/>kill 1</g)).toHaveLength(1); // labelled once, on top
    expect(svg).toContain('<path d="M70.0,'); // the x axis starts at the earliest reading (t = -2, before the load)
  });
});

describe('abort load', () => {
  it('sends rate × duration requests, aborts one in ten both ways, and completes the rest', async () => {
    let cut = 0;
    const server = http.createServer((req, res) => {
      req.on('aborted', () => (cut += 1));
      req.resume();
      // later than any abort (≤ 5 ms after sending)
      req.on('end', () => setTimeout(() => res.end('{"predictions":[1,0]}'), 25));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const run = startAbortLoad({
        url: `http://127.0.0.1:${port}`,
        path: '/v1/models/x:predict',
        rate: 200,
        durationS: 1,
        abortEvery: 10,
        maxSockets: 32,
        maxOutstanding: 1_000,
        timeoutMs: 5_000,
        origin: Date.now(),
        abortWindowMs: 5,
      });
      const result = await run.done;
      expect(result.sent).toBe(200);
      expect(result.abortsPlanned).toBe(20);
      expect(result.ok).toBe(180);
      expect(result.abortedBeforeHeaders).toBe(10);
      expect(result.abortedMidBody).toBe(10);
      expect(result.answeredFirst).toBe(0);
      expect(result.failedBeforeAbort).toEqual({});
      expect(result.failures).toEqual([]);
      expect(cut).toBeGreaterThanOrEqual(10); // the mid-body ones at least: the server saw their bodies end early
      expect(run.outstanding()).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
