/**
 * The soak's verdicts, as pure functions of what was measured: is a resource flat over the run, were the
 * failures only the ones a replica kill explains, did everything drain after the load. No I/O, no clock.
 */

/** One reading of a resource at `t` seconds since the load started. */
export interface Point {
  t: number;
  v: number;
}

/** How a resource moved over the load window (warm-up excluded). */
export interface Trend {
  /** readings used (finite, after the warm-up, inside the load window) */
  n: number;
  /** mean (median when robust) of the second quarter of the load window */
  q2Mean: number;
  /** mean (median when robust) of the last quarter of the load window */
  q4Mean: number;
  /** q4Mean − q2Mean */
  growth: number;
  /** least-squares (Theil–Sen when robust) slope after the warm-up, per second */
  slopePerS: number;
  /** the fitted line's rise across the post-warm-up window (slope × its length) */
  fittedRise: number;
  /** the slope as if it went on for an hour (information: a short run cannot resolve small slopes) */
  perHour: number;
  /** seconds of the post-warm-up window the slope was fitted over */
  windowS: number;
}

/** Fraction of the load window that is warm-up (JIT, heap sizing, connection pools filling). */
export const WARMUP_FRACTION = 0.2;

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Theil–Sen slope: the median of the slopes between every pair of readings. One reading far off the line (a
 * GC pause, a replica kill) moves it no more than any other; NaN with fewer than two distinct times.
 */
export function theilSenSlope(points: readonly Point[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const a = points[i] as Point;
      const b = points[j] as Point;
      if (b.t !== a.t) slopes.push((b.v - a.v) / (b.t - a.t));
    }
  }
  return median(slopes);
}

/** Least-squares slope of v over t; NaN with fewer than two distinct times. */
export function leastSquaresSlope(points: readonly Point[]): number {
  if (points.length < 2) return Number.NaN;
  const mt = mean(points.map((p) => p.t));
  const mv = mean(points.map((p) => p.v));
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/**
 * The trend of a resource over the load window [0, loadEndS]: means of its second and last quarters, and a
 * least-squares line over everything after the warm-up (the first WARMUP_FRACTION of the window). `robust`
 * takes medians and the Theil–Sen slope instead, for spiky readings such as per-second event-loop delay.
 */
export function trendOf(points: readonly Point[], loadEndS: number, robust = false): Trend {
  const centre = robust ? median : mean;
  const finite = points.filter((p) => Number.isFinite(p.v) && p.t >= 0 && p.t <= loadEndS);
  const within = (from: number, to: number): number[] =>
    finite.filter((p) => p.t >= from * loadEndS && p.t <= to * loadEndS).map((p) => p.v);
  const measured = finite.filter((p) => p.t >= WARMUP_FRACTION * loadEndS);
  const q2Mean = centre(within(0.25, 0.5));
  const q4Mean = centre(within(0.75, 1));
  const slopePerS = robust ? theilSenSlope(measured) : leastSquaresSlope(measured);
  const windowS = measured.length > 0 ? (measured[measured.length - 1] as Point).t - (measured[0] as Point).t : 0;
  return {
    n: measured.length,
    q2Mean,
    q4Mean,
    growth: q4Mean - q2Mean,
    slopePerS,
    fittedRise: slopePerS * windowS,
    perHour: slopePerS * 3600,
    windowS,
  };
}

/** A verdict line: what was checked, whether it held, and the numbers behind it. */
export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

/**
 * Flat: neither the last quarter's mean nor the fitted line rose by more than `tolerance` (in the resource's
 * unit) over the second quarter / the post-warm-up window. Too few readings to tell is a failure, not a pass.
 */
export function flatCheck(name: string, trend: Trend, tolerance: number, unit: string, digits = 1): Check {
  const f = (x: number): string => {
    const shown = Number(x.toFixed(digits)) || 0; // no "-0"
    return `${shown >= 0 ? '+' : ''}${shown.toFixed(digits)} ${unit}`;
  };
  if (trend.n < 4 || !Number.isFinite(trend.growth) || !Number.isFinite(trend.fittedRise)) {
    return { name, pass: false, detail: `too few readings to tell (${trend.n} after the warm-up)` };
  }
  const pass = trend.growth <= tolerance && trend.fittedRise <= tolerance;
  return {
    name,
    pass,
    detail:
      `last quarter vs second quarter ${f(trend.growth)}, fitted rise over ${trend.windowS.toFixed(0)} s ${f(trend.fittedRise)} ` +
      `(tolerance ${tolerance.toFixed(digits)} ${unit}; as a rate ${f(trend.perHour)}/h)`,
  };
}

/** Tolerances of the flatness verdicts; see load-tests/README.md for why these numbers. */
export interface FlatTolerances {
  /** RSS and V8 heap after a full collection may grow by this fraction of their second-quarter mean */
  memoryFraction: number;
  /** open descriptors may grow by this many */
  fds: number;
  /** event-loop delay p99 (mean of the per-second values) may grow by this many ms */
  lagMs: number;
}

export const DEFAULT_TOLERANCES: FlatTolerances = { memoryFraction: 0.1, fds: 20, lagMs: 5 };

/** A request that was not aborted by the client and did not get a 200: its status, or its transport error. */
export interface Failure {
  /** seconds since the load started */
  t: number;
  /** '502', '503', … or a transport error ('ECONNRESET', 'cut response', 'timeout') */
  kind: string;
}

/** What a replica kill may cost a client: 502 (in flight on the killed replica), 503, or a cut connection. */
export function explainedByKill(kind: string): boolean {
  return kind === '502' || kind === '503' || (!/^\d+$/.test(kind) && kind !== 'timeout');
}

export interface FailureSplit {
  aroundKills: Record<string, number>;
  elsewhere: Record<string, number>;
}

/**
 * Splits failures into those a kill explains (a 502, 503 or cut connection from `before` s before a kill to
 * `after` s after it) and the rest.
 */
export function splitFailures(failures: readonly Failure[], kills: readonly number[], before = 0.5, after = 5): FailureSplit {
  const split: FailureSplit = { aroundKills: {}, elsewhere: {} };
  for (const f of failures) {
    const near = kills.some((k) => f.t >= k - before && f.t <= k + after);
    const bucket = near && explainedByKill(f.kind) ? split.aroundKills : split.elsewhere;
    bucket[f.kind] = (bucket[f.kind] ?? 0) + 1;
  }
  return split;
}

/** What the soak saw, reduced to the numbers the verdicts need. */
export interface SoakObservation {
  loadEndS: number;
  /** RSS read right after a full collection forced through the inspector (what the process keeps) */
  rssAfterGcMiB: readonly Point[];
  /** V8 heap in use right after those collections */
  heapAfterGcMiB: readonly Point[];
  fds: readonly Point[];
  /** per-second event-loop delay p99, without the readings that cover a forced collection's pause */
  lagP99Ms: readonly Point[];
  /** seconds since the load started, one per replica kill */
  kills: readonly number[];
  /** kills after which a replacement replica became ready */
  restored: number;
  failures: readonly Failure[];
  /** requests the client completed with a 200 */
  ok: number;
  /** sluice still running at the end of the run, and why not if not */
  alive: boolean;
  exit?: string;
  /** after the load stopped and the client closed its connections */
  after: {
    gatewayInflight: number;
    held: number;
    replicaInflight: number;
    fds: number;
    readyReplicas: number;
  };
  /** idle, before the load, with `readyReplicas` replicas */
  baseline: { fds: number; readyReplicas: number };
}

/** Each replica process costs the sluice process this many descriptors (its stdin, stdout and stderr pipes). */
export const FDS_PER_REPLICA = 3;
/** After the load, descriptors may stay this far above the idle baseline (scrape connection, timers, …). */
export const FDS_AFTER_SLACK = 10;

const sumOf = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
const listOf = (r: Record<string, number>): string =>
  Object.keys(r).length === 0 ? 'none' : Object.entries(r).map(([k, n]) => `${k} × ${n}`).join(', ');

/** Every verdict of the soak, in report order. */
export function soakVerdicts(o: SoakObservation, tol: FlatTolerances = DEFAULT_TOLERANCES): Check[] {
  const rss = trendOf(o.rssAfterGcMiB, o.loadEndS);
  const heap = trendOf(o.heapAfterGcMiB, o.loadEndS);
  const relative = (t: Trend): number => tol.memoryFraction * (Number.isFinite(t.q2Mean) ? t.q2Mean : 0);
  const split = splitFailures(o.failures, o.kills);
  const fdsAllowed = o.baseline.fds + FDS_PER_REPLICA * Math.max(0, o.after.readyReplicas - o.baseline.readyReplicas) + FDS_AFTER_SLACK;
  const drained = o.after.gatewayInflight === 0 && o.after.held === 0 && o.after.replicaInflight === 0;
  return [
    flatCheck('RSS flat (read after a forced full GC)', rss, relative(rss), 'MiB'),
    flatCheck('V8 heap flat (after a forced full GC)', heap, relative(heap), 'MiB'),
    flatCheck('open descriptors flat', trendOf(o.fds, o.loadEndS), tol.fds, 'fds', 0),
    flatCheck('event-loop delay p99 flat (medians, Theil–Sen)', trendOf(o.lagP99Ms, o.loadEndS, true), tol.lagMs, 'ms'),
    {
      name: 'sluice alive at the end',
      pass: o.alive,
      detail: o.alive ? 'still serving' : `exited: ${o.exit ?? 'unknown'}`,
    },
    {
      name: 'every killed replica replaced',
      pass: o.kills.length > 0 && o.restored === o.kills.length,
      detail: `${o.kills.length} kills, ${o.restored} replacements ready`,
    },
    {
      name: 'non-aborted requests: 200, or 502/503/cut only around a kill',
      pass: sumOf(split.elsewhere) === 0 && o.ok > 0,
      detail: `${o.ok} × 200; around kills: ${listOf(split.aroundKills)}; elsewhere: ${listOf(split.elsewhere)}`,
    },
    {
      name: 'in-flight gauges back to 0 after the load',
      pass: drained,
      detail: `gateway in flight ${o.after.gatewayInflight}, held ${o.after.held}, on replicas ${o.after.replicaInflight}`,
    },
    {
      name: 'descriptors back near the idle baseline',
      pass: o.after.fds <= fdsAllowed,
      detail:
        `${o.after.fds} after vs ${o.baseline.fds} idle before (allowed ≤ ${fdsAllowed}: +${FDS_PER_REPLICA} per extra replica ` +
        `[${o.baseline.readyReplicas} → ${o.after.readyReplicas}], +${FDS_AFTER_SLACK})`,
    },
  ];
}
