import type { Decision, DeciderInput } from '../decider.js';
import type { DeciderSettings } from '../settings.js';
import { replicasThatFit, type GpuInventory } from './gpu-inventory.js';

export type { GpuInventory } from './gpu-inventory.js';
export { GpuAllocator, replicasThatFit } from './gpu-inventory.js';

/** Status condition reported on a revision whose demand the GPUs cannot hold. */
export interface GpuCapacityCondition {
  type: 'GpuCapacity';
  status: 'True' | 'False';
  reason: 'Sufficient' | 'InsufficientGPU';
  message: string;
}

export interface GpuPolicyContext {
  revisionKey: string;
  /** GPUs per replica by resource name. */
  gpus: Record<string, number>;
  inventory: GpuInventory;
  /** Learned time from asking for a replica to it being ready (StartupTracker). */
  startupMs: number;
}

/** Arrival rates over the two windows and the learned service time, for the queue-aware demand. */
export interface ArrivalView {
  stableRps: number;
  panicRps: number;
  /** Mean service time (ServiceTimeTracker), null until learned. */
  serviceMs: number | null;
}

/**
 * Before the decider: the start-up aware view of demand.
 *  - Requests held while replicas load inflate in-flight concurrency without being demand: once the service time
 *    is known, demand is capped by Little's law at arrival rate × service time, plus what drains the held backlog
 *    within one start-up time, per window (concurrency metric);
 *    before it is known (first cold start) demand is capped at what is already asked for while requests are held.
 *  - Replicas still starting count as capacity (they are counted as ready for the panic threshold and the
 *    rate limits), so requests piling up while a slow model loads do not set off a panic storm.
 *  - When demand is rising (panic-window average above the stable one), the stable demand is projected
 *    start-up time ahead along that slope (at most doubling the panic demand), so replicas are asked for
 *    early enough to be ready when the load arrives.
 */
export function gpuInputView(input: DeciderInput, s: DeciderSettings, startupMs: number, arrivals: ArrivalView | null = null): DeciderInput {
  const view = { ...input, readyReplicas: input.readyReplicas + input.startingReplicas, startingReplicas: 0 };
  if (arrivals && arrivals.serviceMs !== null && s.metric === 'concurrency') {
    const sec = arrivals.serviceMs / 1000;
    // Plus enough to drain the held backlog within one start-up time (new replicas take that long anyway).
    const drain = (input.waiting * sec) / Math.max(startupMs / 1000, s.panicWindowMs / 1000);
    view.stable = Math.min(view.stable, arrivals.stableRps * sec + drain);
    view.panic = Math.min(view.panic, arrivals.panicRps * sec + drain);
  } else if (arrivals && (input.startingReplicas > 0 || input.waiting > 0)) {
    // First cold start: the service time is unknown and requests are held or replicas loading. Held requests say
    // nothing about real demand until a replica has served some (one completion is enough to learn it): ask for
    // no more than is already asked for. Done on the input, so the decider's panic memory stays consistent.
    const asked = Math.max(1, view.readyReplicas, input.currentDesired);
    view.stable = Math.min(view.stable, asked * s.target);
    view.panic = Math.min(view.panic, asked * s.target);
  }
  // Project only a clear rise (panic 25 % and one replica's target above stable): the 6-second panic window is
  // noisy and the projection multiplies its noise.
  if (startupMs > 0 && view.panic > view.stable * 1.25 && view.panic - view.stable >= s.target) {
    // The two averages sit at the middles of their windows: half a stable window and half a panic window ago.
    const spanMs = Math.max(1000, (s.stableWindowMs - s.panicWindowMs) / 2);
    const slopePerMs = (view.panic - view.stable) / spanMs;
    const projected = Math.min(view.panic + slopePerMs * startupMs, view.panic * 2);
    view.stable = Math.max(view.stable, projected);
  }
  return view;
}

/**
 * Settings for a GPU revision: a replica is not released sooner than one learned start-up time after the
 * decision that wanted it (a scale-down delay of at least the start-up time, at most two stable windows), so the
 * scale-ahead does not flap.
 */
export function gpuSettings(s: DeciderSettings, startupMs: number): DeciderSettings {
  const delay = Math.min(Math.max(s.scaleDownDelayMs, Math.round(startupMs / 1000) * 1000), 2 * s.stableWindowMs);
  return delay === s.scaleDownDelayMs ? s : { ...s, scaleDownDelayMs: delay };
}

/**
 * After the decider: never ask for more replicas than the GPUs can hold. Returns the capped decision and the
 * condition to report (status False with reason InsufficientGPU when the cap bites; requests then stay held in
 * the activator until a replica frees up or their deadline passes).
 */
export function gpuCapacityCap(
  decision: Decision,
  ctx: GpuPolicyContext,
): { decision: Decision; condition: GpuCapacityCondition; limited: boolean } {
  const fit = replicasThatFit(ctx.inventory, ctx.revisionKey, ctx.gpus);
  if (decision.desired <= fit) {
    return {
      decision,
      condition: { type: 'GpuCapacity', status: 'True', reason: 'Sufficient', message: `up to ${fit === Infinity ? 'unbounded' : fit} replicas fit` },
      limited: false,
    };
  }
  const per = Object.entries(ctx.gpus)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => {
      const free = ctx.inventory.capacity(name) - ctx.inventory.allocated(name) + ctx.inventory.allocated(name, ctx.revisionKey);
      return `${n} ${name} per replica, ${Math.max(0, free)} of ${ctx.inventory.capacity(name)} available to this revision`;
    })
    .join('; ');
  return {
    decision: { ...decision, desired: fit, reason: 'gpu-capacity' },
    condition: {
      type: 'GpuCapacity',
      status: 'False',
      reason: 'InsufficientGPU',
      message: `demand needs ${decision.desired} replicas but only ${fit} fit (${per}); excess requests stay held`,
    },
    limited: true,
  };
}
