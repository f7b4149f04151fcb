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
  /** Recent recommendations for the scale-down delay window (bounded by the window). */
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
 * One scaling decision, as a pure function of windowed demand, settings and the previous state
 * (Knative KPA semantics: stable and panic windows, rate limits, panic never scales down, scale-to-zero grace).
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

  let desiredStable = Math.ceil(input.stable / s.target);
  let desiredPanic = Math.ceil(input.panic / s.target);

  // Rate limits, relative to ready replicas.
  const maxUp = Math.ceil(s.maxScaleUpRate * readyForRates);
  const maxDown = Math.floor(readyForRates / s.maxScaleDownRate);
  desiredStable = clamp(desiredStable, maxDown, maxUp);
  desiredPanic = clamp(desiredPanic, maxDown, maxUp);

  // Panic: panic-window demand at or over the threshold of what ready replicas carry.
  const overThreshold = ready === 0 ? input.panic > 0 : input.panic / (ready * s.target) >= s.panicThreshold;
  if (overThreshold) {
    state.lastOverThresholdAt = now;
    if (state.panicSince === null) state.panicSince = now;
  } else if (
    state.panicSince !== null &&
    state.lastOverThresholdAt !== null &&
    now - state.lastOverThresholdAt >= s.stableWindowMs
  ) {
    state.panicSince = null;
    state.maxPanicReplicas = 0;
  }

  let desired: number;
  let reason: string;
  if (state.panicSince !== null) {
    desired = Math.max(desiredPanic, state.maxPanicReplicas, ready, input.currentDesired);
    state.maxPanicReplicas = desired;
    reason = 'panic';
  } else {
    desired = desiredStable;
    reason = 'stable';
  }

  // A restarted autoscaler has not seen a full window yet: never scale down on partial data.
  if (input.observedMs < s.stableWindowMs && desired < Math.max(ready, input.currentDesired)) {
    desired = Math.max(ready, input.currentDesired);
    reason = 'warming-up';
  }

  // Scale-down delay: hold the highest recommendation seen in the delay window.
  if (s.scaleDownDelayMs > 0) {
    state.recent.push({ at: now, desired });
    state.recent = state.recent.filter((r) => now - r.at <= s.scaleDownDelayMs);
    const held = Math.max(...state.recent.map((r) => r.desired));
    if (held > desired) {
      desired = held;
      reason = 'scale-down-delay';
    }
  }

  // Someone is waiting: never answer zero.
  if (input.waiting > 0 && desired < 1) {
    desired = 1;
    reason = 'poke';
  }

  // Activation scale: the least non-zero scale.
  if (desired > 0 && desired < s.activationScale) desired = s.activationScale;

  // Scale to zero only after the grace period and the retention period since the last activity.
  if (desired === 0) {
    if (state.zeroSince === null) state.zeroSince = now;
    const idleFor = input.lastActiveAt === null ? Infinity : now - input.lastActiveAt;
    const graceOver = now - state.zeroSince >= s.scaleToZeroGraceMs;
    const retentionOver = idleFor >= s.scaleToZeroRetentionMs;
    if (s.minScale === 0 && input.currentDesired > 0 && (!graceOver || !retentionOver)) {
      desired = input.currentDesired > 0 ? Math.max(1, Math.min(input.currentDesired, ready || 1)) : 0;
      reason = graceOver ? 'retention' : 'scale-to-zero-grace';
    } else if (input.currentDesired > 0) {
      reason = 'scale-to-zero';
    } else {
      reason = 'idle';
    }
  } else {
    state.zeroSince = null;
  }

  // Bounds.
  if (desired < s.minScale) {
    desired = s.minScale;
    reason = 'min-scale';
  }
  if (desired > s.maxScale) {
    desired = s.maxScale;
    reason = 'max-scale';
  }

  let excessBurstCapacity: number;
  if (s.targetBurstCapacity < 0) excessBurstCapacity = -1;
  else if (s.targetBurstCapacity === 0) excessBurstCapacity = 0;
  else excessBurstCapacity = Math.floor(ready * s.totalTarget - s.targetBurstCapacity - input.panic);

  return { decision: { desired, panic: state.panicSince !== null, excessBurstCapacity, reason }, state };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}
