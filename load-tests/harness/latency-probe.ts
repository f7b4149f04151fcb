import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { RequestShape } from './load-result.js';

/** One probe request: times are `performance.now()` ms; status 0 is a transport error. */
export interface Probe {
  intended: number;
  sent: number;
  done: number;
  status: number;
}

export interface LatencyProbe {
  readonly probes: Probe[];
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<void>;
}

/**
 * An open-loop prober until stopped: a request is due every 1000/rate ms whatever the server does (a stall
 * delays every request due during it), each one kept with its intended, sent and done time. For measuring what
 * something else does to the data plane's latency, at a low rate that does not load it by itself.
 */
export function startLatencyProbe(baseUrl: string, request: RequestShape, rate: number, maxProbes = 1_000_000): LatencyProbe {
  const pool = new Pool(baseUrl, { connections: 16, pipelining: 1, keepAliveTimeout: 60_000 });
  const probes: Probe[] = [];
  const inflight = new Set<Promise<void>>();
  const interval = 1000 / rate;
  const start = performance.now();
  let stopped = false;
  let i = 0;
  const one = async (intended: number): Promise<void> => {
    const sent = performance.now();
    let status = 0;
    try {
      const r = await pool.request({ path: request.path, method: request.method, headers: request.headers, body: request.body ?? null });
      status = r.statusCode;
      await r.body.dump();
    } catch {
      status = 0;
    }
    if (probes.length < maxProbes) probes.push({ intended, sent, done: performance.now(), status });
  };
  const loop = (async () => {
    while (!stopped) {
      const now = performance.now();
      while (start + i * interval <= now) {
        const p = one(start + i * interval).finally(() => inflight.delete(p));
        inflight.add(p);
        i++;
      }
      await sleep(1);
    }
  })();
  return {
    probes,
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inflight);
      await pool.close();
    },
  };
}
