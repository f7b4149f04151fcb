import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import type { LoadResult, RequestShape } from './load-result.js';
import { LatencyRecorder, percentileOfSorted } from './stats.js';

/** Most requests in flight before arrivals are counted as errors rather than queued without bound. */
const MAX_OUTSTANDING = 20_000;

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
  const pool = new Pool(baseUrl, { connections: maxConnections, pipelining: 1, keepAliveTimeout: 60_000 });
  const skipped = Math.round(rate * discardS);
  const total = skipped + Math.round(rate * durationS);
  const corrected = new LatencyRecorder(total - skipped);
  const service = new LatencyRecorder(total - skipped);
  const perSecond = new Array<number>(Math.ceil(durationS) + 1).fill(0);
  let non2xx = 0;
  let errors = 0;
  let outstanding = 0;
  const intervalMs = 1000 / rate;
  const options: Dispatcher.RequestOptions = {
    path: request.path,
    method: request.method,
    headers: request.headers,
    body: request.body ?? null,
  };
  const start = performance.now();
  let sent = 0;
  let settled = 0;
  let allSettled: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allSettled = resolve;
  });
  const finish = (): void => {
    settled += 1;
    if (settled === total) allSettled();
  };
  const measuredFrom = start + discardS * 1000;
  const send = (intended: number, recorded: boolean): void => {
    if (outstanding >= MAX_OUTSTANDING) {
      if (recorded) errors += 1;
      finish();
      return;
    }
    outstanding += 1;
    const actual = performance.now();
    pool.request(options).then(
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
        finish();
      },
      () => {
        if (recorded) errors += 1;
        outstanding -= 1;
        finish();
      },
    );
  };
  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + sent * intervalMs <= now) {
      send(start + sent * intervalMs, sent >= skipped);
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
