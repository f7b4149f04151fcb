import type { Scenario } from './scenario.js';

/**
 * Scenarios that need the real gateway (held requests, replicas, promote/rollback). They are defined so the
 * runner lists them and reports them as skipped until the `sluice` system is wired; their `run` then says what
 * remains to measure.
 */
function pending(name: string, title: string, plan: string): Scenario {
  return {
    name,
    title,
    systems: ['sluice'],
    needs: ['sluice'],
    run: async () => ({ markdown: `Not measured yet. Plan: ${plan}`, charts: [] }),
  };
}

export const coldStart = pending(
  'cold-start',
  'Cold-start burst: 1,000 concurrent requests at a revision at zero',
  'start sluice with one revision at zero replicas whose replica is the JSON responder (start-up time known), ' +
    'send 1,000 concurrent POSTs, record per-request latency minus the replica start-up time (p50 goal ≤ 50 ms), ' +
    'requests lost (goal 0), held requests and ready replicas over time (line chart).',
);

export const canary = pending(
  'canary',
  'Canary 90/10 under load: split error, 5xx during promote and rollback',
  'closed loop at 50 % of capacity for 3 × duration; at t=1/3 promote the canary to 100 %, at t=2/3 roll back; ' +
    'per-second canary share from the two upstreams\' /__stats (split error vs 10 %), 5xx count (goal 0).',
);

export const stepSpike = pending(
  'step-spike',
  'Step and spike: time for ready replicas to cover demand',
  'open loop stepping 10 % → 80 % of capacity and a 5 s spike to 150 %; replicas and held requests over time; ' +
    'time until ready capacity ≥ demand, over-provisioning after.',
);
