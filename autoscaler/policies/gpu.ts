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

/**
 * Before the decider: the start-up aware view of demand.
 *  - Replicas still starting count as capacity (they are counted as ready for the panic threshold and the
 *    rate limits), so requests piling up while a slow model loads do not set off a panic storm.
 *  - When demand is rising (panic-window average above the stable one), the stable demand is projected
 *    start-up time ahead along that slope (at most doubling the panic demand), so replicas are asked for
 *    early enough to be ready when the load arrives.
 */
export function gpuInputView(input: DeciderInput, s: DeciderSettings, startupMs: number): DeciderInput {
  const view = { ...input, readyReplicas: input.readyReplicas + input.startingReplicas, startingReplicas: 0 };
  if (input.panic > input.stable && startupMs > 0) {
    // The two averages sit at the middles of their windows: half a stable window and half a panic window ago.
    const spanMs = Math.max(1000, (s.stableWindowMs - s.panicWindowMs) / 2);
    const slopePerMs = (input.panic - input.stable) / spanMs;
    const projected = Math.min(input.panic + slopePerMs * startupMs, input.panic * 2);
    view.stable = Math.max(input.stable, projected);
  }
  return view;
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
