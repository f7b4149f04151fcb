import type { AutoscalingSpec } from '../api/revision.js';

/**
 * Defaults for every autoscaling setting, in one table. Each can be overridden per revision through the
 * InferenceService fields or the `autoscaling.knative.dev/*` annotations (see docs/configuration.md).
 */
export const AUTOSCALING_DEFAULTS = {
  /** Per-replica concurrency target when containerConcurrency is 0 (Knative: container-concurrency-target-default). */
  concurrencyTarget: 100,
  /** Per-replica rps target for `metric: rps` (Knative: requests-per-second-target-default). */
  rpsTarget: 200,
  /** Percent of the target at which a replica counts as full (target-utilization-percentage). */
  targetUtilizationPercent: 70,
  stableWindowSeconds: 60,
  /** Panic window as a percent of the stable window (at least 1 s). */
  panicWindowPercent: 10,
  /** Panic when panic-window demand reaches this percent of ready capacity. */
  panicThresholdPercent: 200,
  /** Most a revision may grow per decision, as a factor of ready replicas. */
  maxScaleUpRate: 1000,
  /** Most a revision may shrink per decision, as a divisor of ready replicas. */
  maxScaleDownRate: 2,
  /** Idle time after the stable window before the last replica is removed. */
  scaleToZeroGraceSeconds: 30,
  scaleToZeroRetentionSeconds: 0,
  scaleDownDelaySeconds: 0,
  /** Replicas a revision starts with when created (0 allowed: Sluice permits zero initial scale). */
  initialScale: 1,
  activationScale: 1,
  /** Extra concurrency kept spare before the gateway bypasses the activator (-1: always via activator). */
  targetBurstCapacity: 211,
  /** Seconds between decisions. */
  tickSeconds: 2,
  /** Hard cap on replicas per revision when maxReplicas is 0. */
  maxReplicasCap: 100,
} as const;

export interface DeciderSettings {
  metric: 'concurrency' | 'rps';
  /** Per-replica target after utilization (what one replica should carry on average). */
  target: number;
  /** Per-replica target before utilization (used for burst capacity and panic thresholds). */
  totalTarget: number;
  stableWindowMs: number;
  panicWindowMs: number;
  panicThreshold: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  minScale: number;
  maxScale: number;
  initialScale: number;
  activationScale: number;
  scaleToZeroGraceMs: number;
  scaleToZeroRetentionMs: number;
  scaleDownDelayMs: number;
  targetBurstCapacity: number;
}

/** Resolves a revision's autoscaling spec against the defaults. `containerConcurrency` 0 means unbounded. */
export function deciderSettings(spec: AutoscalingSpec, containerConcurrency: number): DeciderSettings {
  const d = AUTOSCALING_DEFAULTS;
  const metric = spec.metric === 'rps' ? 'rps' : 'concurrency';
  const utilization = (spec.targetUtilizationPercent ?? d.targetUtilizationPercent) / 100;
  let totalTarget: number;
  if (spec.target !== null && spec.target > 0) totalTarget = spec.target;
  else if (metric === 'rps') totalTarget = d.rpsTarget;
  else totalTarget = containerConcurrency > 0 ? containerConcurrency : d.concurrencyTarget;
  if (metric === 'concurrency' && containerConcurrency > 0) totalTarget = Math.min(totalTarget, containerConcurrency);
  const stableWindowMs = (spec.stableWindowSeconds ?? d.stableWindowSeconds) * 1000;
  const panicWindowMs = Math.max(1000, (stableWindowMs * (spec.panicWindowPercent ?? d.panicWindowPercent)) / 100);
  const maxScale = spec.maxReplicas > 0 ? spec.maxReplicas : d.maxReplicasCap;
  return {
    metric,
    target: Math.max(0.01, totalTarget * utilization),
    totalTarget,
    stableWindowMs,
    panicWindowMs,
    panicThreshold: (spec.panicThresholdPercent ?? d.panicThresholdPercent) / 100,
    maxScaleUpRate: d.maxScaleUpRate,
    maxScaleDownRate: d.maxScaleDownRate,
    minScale: Math.min(spec.minReplicas, maxScale),
    maxScale,
    initialScale: spec.initialScale ?? d.initialScale,
    activationScale: Math.max(1, spec.activationScale ?? d.activationScale),
    scaleToZeroGraceMs: d.scaleToZeroGraceSeconds * 1000,
    scaleToZeroRetentionMs: (spec.scaleToZeroRetentionSeconds ?? d.scaleToZeroRetentionSeconds) * 1000,
    scaleDownDelayMs: (spec.scaleDownDelaySeconds ?? d.scaleDownDelaySeconds) * 1000,
    targetBurstCapacity: spec.targetBurstCapacity ?? d.targetBurstCapacity,
  };
}
