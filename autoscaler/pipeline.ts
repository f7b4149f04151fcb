import { decide, excessBurstCapacity, initialDeciderState, type Decision, type DeciderInput, type DeciderState } from './decider.js';
import type { Observation } from './observe.js';
import { gpuCapacityCap, gpuInputView, gpuSettings, type ArrivalView, type GpuCapacityCondition, type GpuInventory } from './policies/gpu.js';
import { adaptiveKeepWarm, type KeepWarmWindow } from './policies/keep-warm.js';
import { initialResourceState, resourceDecide, type ReplicaUsage, type ResourcePolicySettings, type ResourceState } from './policies/resource.js';
import type { DeciderSettings } from './settings.js';

/** How a revision is scaled: the KPA decider's settings, and for `metric: cpu|memory` the HPA-style policy. */
export interface ScalePolicy {
  settings: DeciderSettings;
  /** Set for `metric: cpu|memory`: this policy then decides instead of the decider. */
  resource: ResourcePolicySettings | null;
}

/** What the step remembers between decisions. Start from `initialScaleState()`. */
export interface ScaleState {
  decider: DeciderState;
  resource: ResourceState;
}

export function initialScaleState(): ScaleState {
  return { decider: initialDeciderState(), resource: initialResourceState() };
}

/** The revision as the loop (or the simulator) sees it at the moment of a decision. */
export interface RevisionNow {
  now: number;
  readyReplicas: number;
  /** Replicas started but not ready yet. */
  startingReplicas: number;
  /** What the backend was last asked for. */
  currentDesired: number;
  /** Milliseconds of history the observer has for the revision. */
  observedMs: number;
  /** Last time a request arrived or was in flight; null when never seen. */
  lastActiveAt: number | null;
  /** Requests held now for want of a ready replica. */
  waiting: number;
}

/** What one step decides from. */
export type ScaleStepInput =
  /** A request waits for a revision at zero (a poke): wake it at once; no window holds its demand yet. */
  | { kind: 'wake'; now: number }
  /** A decision over observed demand: every tick, and a poke for a revision that is not at zero. */
  | {
      kind: 'observed';
      revision: RevisionNow;
      observation: Observation;
      /** Replicas' CPU/memory usage, read only for `metric: cpu|memory`. */
      usage?: () => readonly ReplicaUsage[];
    };

/** What the layers around the decider need to know about one revision (all optional). */
export interface PolicyContext {
  revisionKey: string;
  /** GPUs per replica by resource name; empty or absent: not a GPU revision. */
  gpus?: Record<string, number>;
  /** Required for the capacity cap of a GPU revision. */
  inventory?: GpuInventory | null;
  /** Learned time-to-ready (start-up aware scale-ahead for GPU revisions, pre-warm lead for keep-warm). */
  startupMs?: number;
  /** Adaptive keep-warm window (when `keepWarm: adaptive` and the histogram is representative). */
  keepWarm?: KeepWarmWindow | null;
}

export interface ScaleStepResult {
  decision: Decision;
  state: ScaleState;
  /** Present for GPU revisions with an inventory. */
  condition: GpuCapacityCondition | null;
  /** True when the GPU cap lowered the decision. */
  capacityLimited: boolean;
}

/**
 * The one scaling step, used by the loop's ticks, its pokes and the simulator. It picks the decision —
 *   wake:              at least one replica (activation scale, min scale), no window math;
 *   cpu/memory:        the HPA-style resource policy;
 *   otherwise:         start-up aware view of the input (GPU revisions by default) → the KPA decider → adaptive
 *                      keep-warm (the decider is never forked) —
 * and then caps every decision, once, at what the GPUs can hold.
 */
export function scaleStep(step: ScaleStepInput, policy: ScalePolicy, state: ScaleState, ctx: PolicyContext): ScaleStepResult {
  let decision: Decision;
  let next = state;
  if (step.kind === 'wake') {
    decision = wakeDecision(policy.settings);
    // A wake-up ends the revision's time at zero: the scale-to-zero grace counts again from the next time the
    // decider recommends zero, not from before the wake-up (else the next tick, before the waking request is in
    // any window, would remove the replica it just started).
    next = { ...state, decider: { ...state.decider, zeroSince: null } };
  } else if (policy.resource) {
    const rev = step.revision;
    const usage = step.usage?.() ?? [];
    const r = resourceDecide({ now: rev.now, currentReplicas: Math.max(rev.readyReplicas, rev.currentDesired), usage }, policy.resource, state.resource);
    decision = { desired: r.desired, panic: false, excessBurstCapacity: -1, reason: r.reason };
    next = { ...state, resource: r.state };
  } else {
    const input: DeciderInput = { ...step.revision, stable: step.observation.stable, panic: step.observation.panic };
    const r = demandDecision(input, policy.settings, state.decider, ctx, step.observation.arrivals);
    decision = r.decision;
    next = { ...state, decider: r.state };
  }
  return { ...capToGpus(decision, ctx), state: next };
}

/** A revision at zero with a request waiting: the least non-zero scale it may have. */
function wakeDecision(s: DeciderSettings): Decision {
  return { desired: Math.min(s.maxScale, Math.max(1, s.activationScale, s.minScale)), panic: false, excessBurstCapacity: -1, reason: 'poke' };
}

/** The KPA decider with the policies layered around it. */
function demandDecision(
  input: DeciderInput,
  s: DeciderSettings,
  state: DeciderState,
  ctx: PolicyContext,
  arrivals: ArrivalView | null,
): { decision: Decision; state: DeciderState } {
  const aware = s.startupAware;
  const startupMs = ctx.startupMs ?? 0;
  const view = aware ? gpuInputView(input, s, startupMs, arrivals) : input;
  const r = decide(view, aware ? gpuSettings(s, startupMs) : s, state);
  let decision = r.decision;
  if (aware) decision = { ...decision, excessBurstCapacity: excessBurstCapacity(s, input.readyReplicas, input.panic) };
  if (s.keepWarm === 'adaptive') decision = adaptiveKeepWarm(decision, input, ctx.keepWarm ?? null, { minScale: s.minScale, startupMs, stableWindowMs: s.stableWindowMs });
  return { decision, state: r.state };
}

/** Never more replicas than the GPUs can hold (GPU revisions with an inventory); says so in the condition. */
function capToGpus(decision: Decision, ctx: PolicyContext): Omit<ScaleStepResult, 'state'> {
  const gpu = ctx.gpus !== undefined && Object.values(ctx.gpus).some((n) => n > 0);
  if (!gpu || !ctx.inventory) return { decision, condition: null, capacityLimited: false };
  const capped = gpuCapacityCap(decision, { revisionKey: ctx.revisionKey, gpus: ctx.gpus ?? {}, inventory: ctx.inventory, startupMs: ctx.startupMs ?? 0 });
  return { decision: capped.decision, condition: capped.condition, capacityLimited: capped.limited };
}
