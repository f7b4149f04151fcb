/**
 * Where a progressive rollout stands, and the canary percent it puts in force. Pure: the controller keeps the
 * state per service and calls this on every reconcile; `decideRollout` (rollout-policy.ts) moves it between steps.
 */
import type { RolloutPolicy } from '../api/traffic-spec.js';

export interface RolloutState {
  revision: string;
  stable: string;
  step: number;
  stepStartedAt: number;
  phase: 'Progressing' | 'Succeeded' | 'RolledBack';
  message: string;
  /** The canary has been ready since stepStartedAt. */
  canaryReady: boolean;
}

export interface RolloutCanaryInput {
  prev: RolloutState | null;
  policy: RolloutPolicy | undefined;
  /** The spec's canaryTrafficPercent (wins over a policy). */
  specCanary: number | null;
  /** An explicit split is set (a policy does not apply). */
  explicitSplit: boolean;
  latestCreated: string;
  latestReady: string | null;
  latestRolledout: string | null;
  now: number;
}

export interface RolloutCanary {
  state: RolloutState | null;
  /** The canaryTrafficPercent in force. */
  canary: number | null;
  /** A rollout started with this call. */
  started: boolean;
}

/**
 * A new latest revision over a rolled-out one starts a rollout at the first step. Its dwell clock (and the
 * comparison window) starts only once the canary is ready; until then it would see no traffic.
 */
export function rolloutCanary(x: RolloutCanaryInput): RolloutCanary {
  if (!x.policy) return { state: null, canary: x.specCanary, started: false };
  if (x.specCanary !== null || x.explicitSplit) {
    // The spec decides; a finished rollout of the latest revision stays on record (e.g. `sluice rollback`).
    const keep = x.prev && x.prev.phase !== 'Progressing' && x.prev.revision === x.latestCreated ? { ...x.prev } : null;
    return { state: keep, canary: x.specCanary, started: false };
  }
  let state = x.prev ? { ...x.prev } : null;
  let started = false;
  if (state === null || state.revision !== x.latestCreated) {
    if (x.latestRolledout === null || x.latestRolledout === x.latestCreated) return { state: null, canary: null, started: false };
    state = {
      revision: x.latestCreated,
      stable: x.latestRolledout,
      step: 0,
      stepStartedAt: x.now,
      phase: 'Progressing',
      message: `rolling out ${x.latestCreated} over ${x.latestRolledout}: waiting for it to become ready`,
      canaryReady: false,
    };
    started = true;
  }
  if (state.phase === 'Succeeded') return { state, canary: null, started };
  if (state.phase === 'RolledBack') return { state, canary: 0, started };
  const ready = x.latestReady === x.latestCreated;
  if (!ready || !state.canaryReady) state.stepStartedAt = x.now;
  state.canaryReady = ready;
  return { state, canary: x.policy.steps[state.step] ?? 100, started };
}
