/**
 * Progressive delivery (a Sluice extension beyond KServe): one pure decision per evaluation, from the policy, the
 * step the rollout is at, when that step began, and the canary's and stable revision's request outcomes over the
 * same window. Never promotes without evidence: a step needs its dwell time *and* `minRequests` canary requests.
 */
import type { RolloutPolicy } from '../api/traffic-spec.js';
import type { WindowStats } from '../gateway/outcome-recorder.js';


export interface RolloutInput {
  policy: RolloutPolicy;
  /** Index into policy.steps. */
  step: number;
  stepStartedAt: number;
  now: number;
  canary: WindowStats;
  stable: WindowStats;
}

export type RolloutDecision =
  | { action: 'hold'; reason: string }
  | { action: 'advance'; toStep: number; reason: string }
  | { action: 'promote'; reason: string }
  | { action: 'rollback'; reason: string };

/** Latency below this is noise; ratios are taken against at least this much. */
const P99_FLOOR_MS = 5;

export function decideRollout(x: RolloutInput): RolloutDecision {
  const { policy, canary, stable } = x;
  const percent = policy.steps[x.step] ?? 100;
  if (canary.requests < policy.minRequests)
    return { action: 'hold', reason: `step ${percent}%: ${canary.requests}/${policy.minRequests} canary requests seen; waiting for evidence` };

  const canaryRate = canary.errors / canary.requests;
  // A stable revision without traffic in the window counts as error-free: the canary must then stand alone.
  const stableRate = stable.requests > 0 ? stable.errors / stable.requests : 0;
  const delta = canaryRate - stableRate;
  if (delta > policy.maxErrorRateDelta)
    return {
      action: 'rollback',
      reason:
        `canary error rate ${pct(canaryRate)} exceeds the stable revision's ${pct(stableRate)} by ${pct(delta)} ` +
        `(limit ${pct(policy.maxErrorRateDelta)}) over ${canary.requests} canary and ${stable.requests} stable requests at step ${percent}%`,
    };
  if (canary.p99Ms !== null && stable.p99Ms !== null && stable.requests >= policy.minRequests) {
    const ratio = Math.max(canary.p99Ms, P99_FLOOR_MS) / Math.max(stable.p99Ms, P99_FLOOR_MS);
    if (ratio > policy.maxP99Ratio)
      return {
        action: 'rollback',
        reason:
          `canary p99 latency ${canary.p99Ms.toFixed(1)} ms is ${ratio.toFixed(2)}× the stable revision's ` +
          `${stable.p99Ms.toFixed(1)} ms (limit ${policy.maxP99Ratio}×) at step ${percent}%`,
      };
  }
  const dwellMs = policy.dwellSeconds * 1000;
  if (x.now - x.stepStartedAt < dwellMs)
    return { action: 'hold', reason: `step ${percent}%: healthy, dwelling ${Math.ceil((dwellMs - (x.now - x.stepStartedAt)) / 1000)} s more` };
  const next = x.step + 1;
  if (next >= policy.steps.length || policy.steps[x.step] === 100)
    return { action: 'promote', reason: `canary healthy through every step (last ${percent}%, ${canary.requests} requests, error rate ${pct(canaryRate)})` };
  return { action: 'advance', toStep: next, reason: `step ${percent}% healthy (${canary.requests} requests, error rate ${pct(canaryRate)}); moving to ${policy.steps[next]}%` };
}

function pct(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}
