import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import type { LoadResult, RequestShape } from './load-result.js';
import { LatencyRecorder, percentileOfSorted } from './stats.js';

/** Most requests in flight before arrivals are counted as errors rather than queued without bound. */
const MAX_OUTSTANDING = 20_000;

/** One stretch of a load shape: `rate` arrivals per second for `durationS` seconds. */
export interface RatePhase {
  rate: number;
  durationS: number;
}

/**
 * What became of one arrival. Times are `performance.now()` milliseconds; `status` is the HTTP status, or 0
 * for a transport error (or an arrival refused because the generator already had too many outstanding).
 */
export interface ArrivalOutcome {
  intended: number;
  sent: number;
  done: number;
  status: number;
  /** false for the discarded warm-up arrivals */
  recorded: boolean;
}

export interface OpenLoopOptions {
  /** the first `discardS` seconds of the schedule are sent but not recorded (default 0) */
  discardS?: number;
  /** called once, synchronously, with the `performance.now()` time arrivals are scheduled from */
  onStart?: (start: number) => void;
  /** called for every arrival as it completes (recorded or not) */
  onOutcome?: (outcome: ArrivalOutcome) => void;
}

/**
 * The intended send times (ms from the start) of a piecewise-constant arrival schedule: within each phase,
 * arrival j is due at phaseStart + j/rate; a phase sends round(rate × duration) arrivals. Pure.
 */
export function arrivalOffsets(phases: readonly RatePhase[]): Float64Array {
  const counts = phases.map((p) => Math.round(p.rate * p.durationS));
  const out = new Float64Array(counts.reduce((a, b) => a + b, 0));
  let i = 0;
  let phaseStart = 0;
  phases.forEach((p, k) => {
    const interval = 1000 / p.rate;
    for (let j = 0; j < (counts[k] as number); j++) out[i++] = phaseStart + j * interval;
    phaseStart += p.durationS * 1000;
  });
  return out;
}

/**
 * Open-loop load (wrk2-style): arrival i is due at start + i/rate whatever the system does, and its latency
 * is counted from that intended time, so a stall is charged to every request it delayed (no coordinated
 * omission). A 1 ms scheduler tick sends every arrival that has come due; the service latency (from the
 * actual send) is kept too, to show how much of the total is the generator's own timer slack. The first
 * `discardS` seconds run at the same rate but are not recorded (new connections, JIT, the previous run's GC).
 */
export async function runOpenLoop(
  baseUrl: string,
  request: RequestShape,
  rate: number,
  durationS: number,
  maxConnections: number,
  discardS = 1,
): Promise<LoadResult> {
  return runOpenLoopPhases(baseUrl, request, [{ rate, durationS: discardS + durationS }], maxConnections, { discardS });
}

/**
 * The same generator over a schedule of phases (a step, a spike): the rate changes at each phase boundary
 * without a pause, and `onOutcome` sees every request (for per-second or per-phase figures).
 */
export async function runOpenLoopPhases(
  baseUrl: string,
  request: RequestShape,
  phases: readonly RatePhase[],
  maxConnections: number,
  options: OpenLoopOptions = {},
): Promise<LoadResult> {
  for (const [k, p] of phases.entries()) {
    if (!(p.rate > 0) || !(p.durationS > 0)) throw new Error(`phases[${k}]: rate and durationS must be positive, got ${p.rate} and ${p.durationS}`);
  }
  const discardS = options.discardS ?? 0;
  const discardMs = discardS * 1000;
  const offsets = arrivalOffsets(phases);
  const total = offsets.length;
  const durationS = phases.reduce((s, p) => s + p.durationS, 0) - discardS;
  const pool = new Pool(baseUrl, { connections: maxConnections, pipelining: 1, keepAliveTimeout: 60_000 });
  const corrected = new LatencyRecorder(total);
  const service = new LatencyRecorder(total);
  const perSecond = new Array<number>(Math.ceil(durationS) + 1).fill(0);
  let non2xx = 0;
  let errors = 0;
  let outstanding = 0;
  const dispatchOptions: Dispatcher.RequestOptions = {
    path: request.path,
    method: request.method,
    headers: request.headers,
    body: request.body ?? null,
  };
  const start = performance.now();
  options.onStart?.(start);
  let sent = 0;
  let settled = 0;
  let allSettled: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allSettled = resolve;
  });
  if (total === 0) allSettled();
  const finish = (): void => {
    settled += 1;
    if (settled === total) allSettled();
  };
  const measuredFrom = start + discardMs;
  const observe = options.onOutcome;
  const send = (intended: number, recorded: boolean): void => {
    if (outstanding >= MAX_OUTSTANDING) {
      if (recorded) errors += 1;
      observe?.({ intended, sent: intended, done: performance.now(), status: 0, recorded });
      finish();
      return;
    }
    outstanding += 1;
    const actual = performance.now();
    pool.request(dispatchOptions).then(
      async ({ statusCode, body }) => {
        await body.dump();
        const now = performance.now();
        if (recorded) {
          corrected.record(now - intended);
          service.record(now - actual);
          if (statusCode < 200 || statusCode >= 300) non2xx += 1;
          const second = Math.floor((now - measuredFrom) / 1000);
          if (second >= 0 && second < perSecond.length) perSecond[second] = (perSecond[second] ?? 0) + 1;
        }
        outstanding -= 1;
        observe?.({ intended, sent: actual, done: now, status: statusCode, recorded });
        finish();
      },
      () => {
        if (recorded) errors += 1;
        outstanding -= 1;
        observe?.({ intended, sent: actual, done: performance.now(), status: 0, recorded });
        finish();
      },
    );
  };
  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + (offsets[sent] as number) <= now) {
      const offset = offsets[sent] as number;
      send(start + offset, offset >= discardMs);
      sent += 1;
    }
    if (sent < total) await sleep(1);
  }
  await done;
  const elapsedS = (performance.now() - measuredFrom) / 1000;
  await pool.close();
  const summary = (recorder: LatencyRecorder): LoadResult['latency'] => {
    const sorted = recorder.sorted();
    return {
      p50: percentileOfSorted(sorted, 0.5),
      p90: percentileOfSorted(sorted, 0.9),
      p99: percentileOfSorted(sorted, 0.99),
      max: percentileOfSorted(sorted, 1),
    };
  };
  return {
    throughput: corrected.count / elapsedS,
    latency: summary(corrected),
    serviceLatency: summary(service),
    completed: corrected.count,
    non2xx,
    errors,
    perSecond: perSecond.slice(0, Math.ceil(durationS)),
  };
}
