/** What one load run against one system measured. Latencies in ms. */
export interface LoadResult {
  /** completed 2xx-or-not responses per second over the run */
  throughput: number;
  latency: { p50: number; p90: number; p99: number; max: number };
  /** for open-loop runs: latency counted from the actual send, not the intended one */
  serviceLatency?: { p50: number; p90: number; p99: number; max: number };
  completed: number;
  non2xx: number;
  errors: number;
  /** completions per second of the run, for time-series plots */
  perSecond: number[];
}

/** A load shape: closed loop (fixed connections) or open loop (fixed arrival rate). */
export type LoadShape =
  | { kind: 'closed'; connections: number; durationS: number }
  | { kind: 'open'; rate: number; durationS: number; maxConnections: number };

/** The request every load run sends: GET, or POST with an inference-like JSON body. */
export interface RequestShape {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers: Record<string, string>;
}

/** ~200 bytes of JSON, shaped like a KServe v1 predict call. */
export const INFERENCE_BODY = JSON.stringify({
  instances: [
    [6.8, 2.8, 4.8, 1.4, 5.1, 3.5, 1.4, 0.2, 6.0, 3.4, 4.5, 1.6],
    [5.7, 2.8, 4.1, 1.3, 6.3, 3.3, 6.0, 2.5, 5.8, 2.7, 5.1, 1.9],
  ],
  parameters: { top_k: 1, request_id: 'bench-0000000001' },
});

export const REQUESTS: Readonly<Record<'GET' | 'POST', RequestShape>> = {
  GET: { method: 'GET', path: '/v1/models/bench', headers: {} },
  POST: {
    method: 'POST',
    path: '/v1/models/bench:predict',
    body: INFERENCE_BODY,
    headers: { 'content-type': 'application/json' },
  },
};
