import type { AutoscalingSpec } from '../../api/revision.js';

/** An AutoscalingSpec with every optional setting left to the defaults, overridden by `over`. */
export function autoscalingSpec(over: Partial<AutoscalingSpec> = {}): AutoscalingSpec {
  return {
    metric: 'concurrency',
    target: null,
    targetUtilizationPercent: null,
    minReplicas: 0,
    maxReplicas: 0,
    initialScale: null,
    activationScale: null,
    stableWindowSeconds: null,
    panicWindowPercent: null,
    panicThresholdPercent: null,
    scaleDownDelaySeconds: null,
    scaleToZeroRetentionSeconds: null,
    targetBurstCapacity: null,
    ...over,
  };
}
