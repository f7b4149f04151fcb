import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';
import type { LoadResult, RequestShape } from './load-result.js';
import { runWrk } from './wrk.js';

/** Which closed-loop generator a run uses: wrk (C, the default) or autocannon (Node, which takes a core itself). */
export type ClosedLoopClient = 'wrk' | 'autocannon';

/** Closed-loop load: `connections` clients, each sending its next request on each answer. */
export async function runClosedLoop(
  baseUrl: string,
  request: RequestShape,
  connections: number,
  durationS: number,
  client: ClosedLoopClient = 'wrk',
): Promise<LoadResult> {
  return client === 'wrk'
    ? runWrk(baseUrl, request, connections, durationS)
    : runAutocannon(baseUrl, request, connections, durationS);
}

async function runAutocannon(
  baseUrl: string,
  request: RequestShape,
  connections: number,
  durationS: number,
): Promise<LoadResult> {
  const perSecond: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: baseUrl + request.path,
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        connections,
        pipelining: 1,
        duration: durationS,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    (instance as unknown as EventEmitter).on('tick', (counter: { counter: number }) => perSecond.push(counter.counter));
  });
  const completed = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return {
    throughput: completed / result.duration,
    latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    completed,
    non2xx: result.non2xx,
    errors: result.errors,
    // autocannon emits one more (empty) tick as it stops
    perSecond: perSecond.slice(0, Math.round(durationS)),
  };
}
