import { applyBounds } from './bounds.js';
import type { DeciderSettings } from './settings.js';

/** Windowed demand for one revision, computed from the collector's buckets. */
export interface DeciderInput {
  now: number;
  readyReplicas: number;
  /** Replicas started but not ready yet. */
  startingReplicas: number;
  /** What the backend was last asked for. */
  currentDesired: number;
  /** Average concurrency (or rps) over the stable window; 0 when idle. */
  stable: number;
  /** Average concurrency (or rps) over the panic window. */
  panic: number;
  /** Milliseconds of history this autoscaler has for the revision (capped at the stable window). */
  observedMs: number;
  /** Last time a request arrived or was in flight; null when never seen. */
  lastActiveAt: number | null;
  /** Requests waiting now for a revision with no ready replica (a poke). */
  waiting: number;
}

/** What the decider remembers between ticks. Start from `initialDeciderState()`. */
export interface DeciderState {
  /** When panic mode began, or null when not panicking. */
  panicSince: number | null;
  /** Last tick that was over the panic threshold. */
  lastOverThresholdAt: number | null;
  /** Highest desired count seen during the current panic (panic never scales down). */
  maxPanicReplicas: number;
  /**
   * Highest recommendation per second within the scale-down delay (oldest first). Bounded: one entry per
   * second of the delay window.
   */
  recent: Array<{ at: number; desired: number }>;
  /** When the recommendation first became zero, or null. */
  zeroSince: number | null;
}

export interface Decision {
  desired: number;
  panic: boolean;
  /** Ready capacity minus target burst capacity minus panic demand; < 0 keeps the activator in the path. */
  excessBurstCapacity: number;
  reason: string;
}

export function initialDeciderState(): DeciderState {
  return { panicSince: null, lastOverThresholdAt: null, maxPanicReplicas: 0, recent: [], zeroSince: null };
}

/**
 * One scaling decision, as a pure function of windowed demand, settings and the previous state.
 *
 * The steps, in order (Knative KPA semantics, see docs/autoscaling.md):
 *  1. want = ceil(stable / target) and ceil(panic / target), each clamped to the rate limits
 *     [floor(ready / maxScaleDownRate), ceil(ready × maxScaleUpRate)], with ready counted as at least 1;
 *  2. panic starts when ceil(panic / target) / max(1, ready) ≥ panicThreshold and ends on the first tick that is
 *     more than one stable window after the last tick over the threshold; while panicking the decision is the
 *     larger of both wants and never lower than anything decided since the panic began (nor the current scale);
 *  3. a revision this autoscaler has watched for less than a stable window is never scaled down (restart);
 *  4. the scale-down delay holds the highest recommendation of the delay window;
 *  5. a waiting request forces at least one replica; activation scale is the least non-zero scale;
 *  6. zero is applied only after the decider has recommended zero for max(grace, retention), and never within a
 *     stable window plus the grace period of the last request (a request may not be in any window yet);
 *  7. min/max scale bound the result.
 */
export function decide(
  input: DeciderInput,
  s: DeciderSettings,
  prev: DeciderState,
): { decision: Decision; state: DeciderState } {
  const state: DeciderState = { ...prev, recent: prev.recent.slice() };
  const now = input.now;
  const ready = input.readyReplicas;
  const readyForRates = Math.max(1, ready);

  const wantStable = Math.ceil(input.stable / s.target);
  const wantPanic = Math.ceil(input.panic / s.target);

  // 1. Rate limits, relative to ready replicas. Ceil/floor let a slow rate still move by one replica.
  const maxUp = Math.ceil(s.maxScaleUpRate * readyForRates);
  const maxDown = Math.floor(readyForRates / s.maxScaleDownRate);
  const desiredStable = clamp(wantStable, maxDown, maxUp);
  const desiredPanic = clamp(wantPanic, maxDown, maxUp);

  // 2. Panic: the panic window wants at least `panicThreshold` times the ready replicas.
  const overThreshold = wantPanic / readyForRates >= s.panicThreshold;
  if (overThreshold) {
    state.lastOverThresholdAt = now;
    if (state.panicSince === null) state.panicSince = now;
  } else if (state.panicSince !== null && now - (state.lastOverThresholdAt ?? state.panicSince) > s.stableWindowMs) {
    state.panicSince = null;
    state.lastOverThresholdAt = null;
    state.maxPanicReplicas = 0;
  }

  let desired: number;
  let reason: string;
  if (state.panicSince !== null) {
    const want = Math.max(desiredStable, desiredPanic);
    const floor = Math.max(state.maxPanicReplicas, input.currentDesired);
    if (want >= floor) {
      desired = want;
      reason = 'panic';
    } else {
      desired = floor;
      reason = 'panic-hold';
    }
    state.maxPanicReplicas = desired;
  } else {
    desired = desiredStable;
    reason = 'stable';
  }

  // 3. A restarted autoscaler has not seen a full window yet: never scale down on partial data.
  const current = Math.max(ready, input.currentDesired);
  if (input.observedMs < s.stableWindowMs && desired < current) {
    desired = current;
    reason = 'warming-up';
  }

  // 4. Scale-down delay: hold the highest recommendation seen in the delay window (one entry per second).
  if (s.scaleDownDelayMs > 0) {
    const second = Math.floor(now / 1000) * 1000;
    const last = state.recent[state.recent.length - 1];
    if (last && last.at === second) state.recent[state.recent.length - 1] = { at: second, desired: Math.max(last.desired, desired) };
    else state.recent.push({ at: second, desired });
    state.recent = state.recent.filter((r) => now - r.at < s.scaleDownDelayMs);
    let held = desired;
    for (const r of state.recent) held = Math.max(held, r.desired);
    if (held > desired) {
      desired = held;
      reason = 'scale-down-delay';
    }
  } else if (state.recent.length > 0) {
    state.recent = [];
  }

  // 5. Someone is waiting: never answer zero.
  if (input.waiting > 0 && desired < 1) {
    desired = 1;
    reason = 'poke';
  }

  // 6. Scale to zero only once zero has been recommended for the grace period (and the retention period), and
  //    not while the last request is younger than a stable window plus the grace: a request that arrived since the
  //    newest complete bucket (a replica woken a moment ago) is in no window yet, so "zero for" alone cannot see it.
  if (desired === 0) {
    if (state.zeroSince === null) state.zeroSince = now;
    const zeroFor = now - state.zeroSince;
    const quietFor = input.lastActiveAt === null ? Infinity : now - input.lastActiveAt;
    const recent = quietFor < s.stableWindowMs + s.scaleToZeroGraceMs;
    if (s.minScale === 0 && input.currentDesired > 0 && (recent || zeroFor < Math.max(s.scaleToZeroGraceMs, s.scaleToZeroRetentionMs))) {
      desired = 1;
      reason = recent || zeroFor < s.scaleToZeroGraceMs ? 'scale-to-zero-grace' : 'retention';
    } else {
      reason = input.currentDesired > 0 ? 'scale-to-zero' : 'idle';
    }
  } else {
    state.zeroSince = null;
  }

  // Activation scale: the least non-zero scale.
  if (desired > 0 && desired < s.activationScale) {
    desired = s.activationScale;
    reason = 'activation-scale';
  }

  // 7. Bounds.
  ({ desired, reason } = applyBounds(desired, reason, s));

  return {
    decision: { desired, panic: state.panicSince !== null, excessBurstCapacity: excessBurstCapacity(s, ready, input.panic), reason },
    state,
  };
}

/**
 * Spare capacity beyond the target burst capacity: ready × per-replica total target − burst capacity − panic demand.
 * -1 when burst capacity is -1 (the activator always stays in the path), 0 when it is 0 (never needed).
 */
export function excessBurstCapacity(s: DeciderSettings, ready: number, panicDemand: number): number {
  if (s.targetBurstCapacity < 0) return -1;
  if (s.targetBurstCapacity === 0) return 0;
  return Math.floor(ready * s.totalTarget - s.targetBurstCapacity - panicDemand);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}
