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
