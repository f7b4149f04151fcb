import type { Settings } from '../harness/settings.js';

/** How long, how hard and how often: everything scales with --duration (and --rate). */
export interface SoakPlan {
  /** seconds of load: 10 × --duration */
  loadS: number;
  rate: number;
  /** every abortEvery-th request is abandoned by the client */
  abortEvery: number;
  /** a client abort fires 1..abortWindowMs after the request (or its first half) was sent */
  abortWindowMs: number;
  /** unanswered requests at most; arrivals beyond are counted as skipped */
  maxOutstanding: number;
  /** seconds between replica kills: 1.5 × --duration (15 s at the default 10) */
  killEveryS: number;
  /** seconds since the load started, one per kill */
  killsAtS: number[];
  /** full collections forced during the load (one in the middle of each equal slice) */
  gcReadings: number;
  /** idle seconds sampled before the load */
  idleS: number;
  /** seconds at least, and at most, waited after the load for gauges and descriptors to settle */
  drainMinS: number;
  drainMaxS: number;
  minReplicas: number;
  maxReplicas: number;
  containerConcurrency: number;
  replicaLatencyMs: number;
  replicaJitterMs: number;
}

export const DEFAULT_SOAK_RATE = 200;

export function soakPlan(settings: Pick<Settings, 'durationS' | 'rate'>): SoakPlan {
  const loadS = 10 * settings.durationS;
  const killEveryS = 1.5 * settings.durationS;
  const killsAtS: number[] = [];
  for (let k = 1; k * killEveryS <= loadS - killEveryS / 2; k++) killsAtS.push(k * killEveryS);
  return {
    loadS,
    rate: settings.rate ?? DEFAULT_SOAK_RATE,
    abortEvery: 10,
    abortWindowMs: 5,
    maxOutstanding: 2_000,
    killEveryS,
    killsAtS,
    gcReadings: 10,
    idleS: 4,
    // the forwarder closes idle replica connections after 4 s; the client closes its own when the load ends
    drainMinS: 6,
    drainMaxS: 30,
    minReplicas: 2,
    maxReplicas: 4,
    containerConcurrency: 8,
    replicaLatencyMs: 5,
    replicaJitterMs: 5,
  };
}
