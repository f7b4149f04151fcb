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
