import { describe, expect, it } from 'vitest';
import {
  flatCheck,
  leastSquaresSlope,
  soakVerdicts,
  splitFailures,
  theilSenSlope,
  trendOf,
  type Point,
  type SoakObservation,
} from '../../load-tests/soak/soak-verdict.js';

/** One reading a second over [from, to] of f(t). */
const series = (from: number, to: number, f: (t: number) => number): Point[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ t: from + i, v: f(from + i) }));

/** A run that went well: 100 s of load, flat everything, six kills each repaired, 502s only at the kills. */
function healthy(): SoakObservation {
  const kills = [15, 30, 45, 60, 75, 90];
  return {
    loadEndS: 100,
    rssAfterGcMiB: series(0, 100, (t) => (t % 10 === 5 ? 120 + (t % 3) : Number.NaN)),
    heapAfterGcMiB: series(0, 100, (t) => (t % 10 === 5 ? 42 + 0.1 * (t % 2) : Number.NaN)),
    fds: series(-4, 110, (t) => (t < 0 || t > 100 ? 30 : 40 + (t % 5))),
    lagP99Ms: series(0, 100, (t) => (kills.includes(t) ? 60 : 12 + (t % 2))),
    kills,
    restored: 6,
    failures: kills.map((k) => ({ t: k + 0.1, kind: '502' })),
    ok: 18_000,
    alive: true,
    after: { gatewayInflight: 0, held: 0, replicaInflight: 0, fds: 31, readyReplicas: 2 },
    baseline: { fds: 30, readyReplicas: 2 },
  };
}

const byName = (o: SoakObservation): Map<string, boolean> => new Map(soakVerdicts(o).map((c) => [c.name.split(' (')[0] ?? c.name, c.pass]));

describe('soak trends', () => {
  it('fits a least-squares slope and a Theil–Sen slope; one spike moves only the first', () => {
    const line = series(0, 20, (t) => 2 * t + 1);
    expect(leastSquaresSlope(line)).toBeCloseTo(2, 10);
    expect(theilSenSlope(line)).toBeCloseTo(2, 10);
    const spiked = line.map((p) => (p.t === 18 ? { t: p.t, v: p.v + 500 } : p));
    expect(leastSquaresSlope(spiked)).toBeGreaterThan(4);
    expect(theilSenSlope(spiked)).toBeCloseTo(2, 10);
    expect(leastSquaresSlope([{ t: 1, v: 1 }])).toBeNaN();
  });

  it('compares the second and last quarters of the load and fits only after the warm-up', () => {
    // steep during the warm-up (first 20 s of 100), flat after: not a leak
    const t = trendOf(series(0, 100, (x) => (x < 20 ? 5 * x : 100)), 100);
    expect(t.growth).toBe(0);
    expect(t.slopePerS).toBeCloseTo(0, 10);
    expect(t.windowS).toBe(80);
    expect(t.n).toBe(81);
    // idle readings before the load and drain readings after it do not count
    const withEdges = trendOf(series(-10, 120, (x) => (x < 0 || x > 100 ? 1_000 : 100)), 100);
    expect(withEdges.q4Mean).toBe(100);
    expect(withEdges.n).toBe(81);
  });

  it('calls a steady climb a leak and a flat saw-tooth flat; too few readings is not a pass', () => {
    const leak = trendOf(series(0, 100, (x) => 100 + 0.3 * x), 100); // +30 over the run
    expect(flatCheck('rss', leak, 10, 'MiB').pass).toBe(false);
    const sawTooth = trendOf(series(0, 100, (x) => 100 + (x % 10)), 100);
    const check = flatCheck('rss', sawTooth, 10, 'MiB');
    expect(check.pass).toBe(true);
    expect(check.detail).toContain('/h');
    expect(flatCheck('rss', trendOf([{ t: 50, v: 1 }, { t: 90, v: 1 }], 100), 10, 'MiB')).toMatchObject({
      pass: false,
      detail: expect.stringContaining('too few readings'),
    });
  });
});

describe('soak failures around kills', () => {
  it('excuses 502, 503 and cut connections near a kill, and nothing else', () => {
    const split = splitFailures(
      [
        { t: 14.8, kind: '502' }, // just before the kill at 15 (the harness logs the kill after sending SIGKILL)
        { t: 16, kind: 'ECONNRESET' },
        { t: 19.9, kind: '503' },
        { t: 15.5, kind: '504' }, // a timeout is not what a kill causes
        { t: 15.5, kind: 'timeout' },
        { t: 40, kind: '502' }, // far from any kill
      ],
      [15],
    );
    expect(split.aroundKills).toEqual({ '502': 1, ECONNRESET: 1, '503': 1 });
    expect(split.elsewhere).toEqual({ '504': 1, timeout: 1, '502': 1 });
  });
});

describe('soak verdicts', () => {
  it('passes a run that stayed flat, drained and repaired every kill', () => {
    const checks = soakVerdicts(healthy());
    expect(checks.filter((c) => !c.pass)).toEqual([]);
    expect(checks).toHaveLength(9);
  });

  it('fails the memory verdicts on a heap that keeps what it is given', () => {
    const o = healthy();
    o.heapAfterGcMiB = series(0, 100, (t) => (t % 10 === 5 ? 42 + 0.2 * t : Number.NaN));
    const v = byName(o);
    expect(v.get('V8 heap flat')).toBe(false);
    expect(v.get('RSS flat')).toBe(true);
  });

  it('fails on descriptors that climb, a loop that slows, and descriptors left open after the load', () => {
    const o = healthy();
    o.fds = series(0, 100, (t) => 40 + t);
    o.lagP99Ms = series(0, 100, (t) => 12 + 0.2 * t);
    o.after = { ...o.after, fds: 45 };
    const v = byName(o);
    expect(v.get('open descriptors flat')).toBe(false);
    expect(v.get('event-loop delay p99 flat')).toBe(false);
    expect(v.get('descriptors back near the idle baseline')).toBe(false);
  });

  it('allows three descriptors per extra replica after the load', () => {
    const o = healthy();
    o.after = { ...o.after, fds: 30 + 3 * 2 + 10, readyReplicas: 4 };
    expect(byName(o).get('descriptors back near the idle baseline')).toBe(true);
    o.after = { ...o.after, fds: 30 + 3 * 2 + 11 };
    expect(byName(o).get('descriptors back near the idle baseline')).toBe(false);
  });

  it('fails on a crash, an unrepaired kill, a stray error, and gauges left above 0', () => {
    const o = healthy();
    o.alive = false;
    o.exit = 'code null, signal SIGSEGV';
    o.restored = 5;
    o.failures = [...o.failures, { t: 50, kind: '500' }];
    o.after = { ...o.after, gatewayInflight: 1 };
    const checks = soakVerdicts(o);
    const failed = checks.filter((c) => !c.pass).map((c) => c.name);
    expect(failed).toEqual([
      'sluice alive at the end',
      'every killed replica replaced',
      'non-aborted requests: 200, or 502/503/cut only around a kill',
      'in-flight gauges back to 0 after the load',
    ]);
    expect(checks.find((c) => c.name === 'sluice alive at the end')?.detail).toContain('SIGSEGV');
    expect(checks.find((c) => c.name.startsWith('non-aborted'))?.detail).toContain('elsewhere: 500 × 1');
  });

  it('does not pass a run without kills or without a single 200', () => {
    const o = healthy();
    o.kills = [];
    o.restored = 0;
    o.ok = 0;
    const v = byName(o);
    expect(v.get('every killed replica replaced')).toBe(false);
    expect(v.get('non-aborted requests: 200, or 502/503/cut only around a kill')).toBe(false);
  });
});
