/**
 * `node dist/load-tests/ingress-stage-cost.js`: CPU cost of the ingress stages per request, in process (no
 * sockets), with every rule off (the defaults: stages composed, no service policy) and on (every rule, none
 * biting), interleaved over rounds; medians. A closed-loop run (scenario ingress-limits) measures the same through
 * the whole gateway, where on a busy machine the difference drowns in noise; this isolates it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ingressPolicy } from '../api/ingress-policy.js';
import { SystemClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import { SluiceMetrics } from '../core/metrics.js';
import { Exchange } from '../gateway/exchange.js';
import type { Pipeline } from '../gateway/pipeline.js';
import type { RouteMatch } from '../gateway/route-table.js';
import type { Stage } from '../gateway/stage.js';
import { ingressStages } from '../gateway/stages/ingress.js';
import { LIMITS_ON_ANNOTATIONS, LIMITS_ON_SETTINGS } from './support/limits-on.js';

const N = 500_000;
const ROUNDS = 7;

function setup(on: boolean): { stages: Stage[]; match: RouteMatch } {
  const policy = on
    ? ingressPolicy(LIMITS_ON_ANNOTATIONS)
    : undefined;
  const stages = ingressStages(
    { trustedProxyHops: 0, maxRequestBytes: 32 << 20, maxHeaderCount: 100, maxRequestsPerClient: on ? LIMITS_ON_SETTINGS.maxRequestsPerClient : 0, clientRateLimit: on ? LIMITS_ON_SETTINGS.clientRateLimit : 0, clientRateLimitBurst: on ? LIMITS_ON_SETTINGS.clientRateLimitBurst : 0, rateLimitBuckets: 100_000 },
    { clock: new SystemClock(), logger: silentLogger(), metrics: new SluiceMetrics() },
  );
  const match = { route: { namespace: 'default', service: 'bench', modelName: 'bench', hosts: [], targets: [], ...(policy ? { ingress: policy } : {}) }, tag: null, path: '/' } as unknown as RouteMatch;
  return { stages, match };
}

function run(stages: Stage[], match: RouteMatch): number {
  const socket = { remoteAddress: '::ffff:127.0.0.1' };
  const req = { socket, headers: { 'content-length': '40', host: 'x', 'content-type': 'application/json' }, rawHeaders: new Array(12).fill('a'), method: 'POST', url: '/v1/models/bench:predict' } as unknown as IncomingMessage;
  const res = {} as ServerResponse;
  const t = performance.now();
  for (let i = 0; i < N; i++) {
    const ex = new Exchange(req, res, 0, 0, null as unknown as Pipeline);
    for (const s of stages) if (s.onArrival && s.onArrival(ex)) throw new Error(`${s.name} refused`);
    ex.match = match;
    for (const s of stages) if (s.onRouted && s.onRouted(ex)) throw new Error(`${s.name} refused`);
    for (const s of stages) s.onDone?.(ex);
  }
  return ((performance.now() - t) * 1000) / N;
}

const off = setup(false);
const on = setup(true);
const results: { off: number[]; on: number[] } = { off: [], on: [] };
for (let r = 0; r < ROUNDS; r++) {
  results.off.push(run(off.stages, off.match));
  results.on.push(run(on.stages, on.match));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(
  `ingress stages, µs per request (median of ${ROUNDS} rounds × ${N.toLocaleString('en')} requests, exchange allocation included):\n` +
    `  off (defaults, no service policy): ${median(results.off).toFixed(2)}\n` +
    `  on  (every rule, none biting):     ${median(results.on).toFixed(2)}\n`,
);
