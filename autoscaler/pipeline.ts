import { decide, excessBurstCapacity, type Decision, type DeciderInput, type DeciderState } from './decider.js';
import { gpuCapacityCap, gpuInputView, gpuSettings, type ArrivalView, type GpuCapacityCondition, type GpuInventory } from './policies/gpu.js';
import { adaptiveKeepWarm, type KeepWarmWindow } from './policies/keep-warm.js';
import type { DeciderSettings } from './settings.js';

/** What the layers around the decider need to know about one revision (all optional). */
export interface PolicyContext {
  revisionKey: string;
  /** GPUs per replica by resource name; empty or absent: not a GPU revision. */
  gpus?: Record<string, number>;
  /** Required for the capacity cap of a GPU revision. */
  inventory?: GpuInventory | null;
  /** Learned time-to-ready (start-up aware scale-ahead for GPU revisions, pre-warm lead for keep-warm). */
  startupMs?: number;
  /** Arrival rates and learned service time: queue-aware demand for start-up aware revisions. */
  arrivals?: ArrivalView | null;
  /** Adaptive keep-warm window (when `keepWarm: adaptive` and the histogram is representative). */
  keepWarm?: KeepWarmWindow | null;
}

export interface PolicyResult {
  decision: Decision;
  state: DeciderState;
  /** Present for GPU revisions with an inventory. */
  condition: GpuCapacityCondition | null;
  /** True when the GPU cap lowered the decision. */
  capacityLimited: boolean;
}

/**
 * The one scaling step, used by the loop and by the simulator: the KPA decider with the policies layered
 * around it (never a fork of it):
 *   start-up aware view of the input (GPU revisions by default) → decide() → adaptive keep-warm → GPU capacity cap.
 */
export function decideWithPolicies(
  input: DeciderInput,
  s: DeciderSettings,
  state: DeciderState,
  ctx: PolicyContext,
): PolicyResult {
  const gpu = ctx.gpus !== undefined && Object.values(ctx.gpus).some((n) => n > 0);
  const aware = s.startupAware;
  const startupMs = ctx.startupMs ?? 0;
  const arrivals = ctx.arrivals ?? null;
  const view = aware ? gpuInputView(input, s, startupMs, arrivals) : input;
  const r = decide(view, aware ? gpuSettings(s, startupMs) : s, state);
  let decision = r.decision;
  if (aware) decision = { ...decision, excessBurstCapacity: excessBurstCapacity(s, input.readyReplicas, input.panic) };
  if (s.keepWarm === 'adaptive') decision = adaptiveKeepWarm(decision, input, ctx.keepWarm ?? null, { minScale: s.minScale, startupMs });
  let condition: GpuCapacityCondition | null = null;
  let capacityLimited = false;
  if (gpu && ctx.inventory) {
    const capped = gpuCapacityCap(decision, { revisionKey: ctx.revisionKey, gpus: ctx.gpus ?? {}, inventory: ctx.inventory, startupMs });
    decision = capped.decision;
    condition = capped.condition;
    capacityLimited = capped.limited;
  }
  return { decision, state: r.state, condition, capacityLimited };
}
