import type { AutoscalingSpec } from '../api/revision.js';

/**
 * Defaults for every autoscaling setting, in one table. Each can be overridden per revision through the
 * InferenceService fields or the `autoscaling.knative.dev/*` annotations (see docs/autoscaling.md, which lists
 * every row with the field or annotation that overrides it).
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
  /** Time the decider must keep recommending zero before the last replica is removed. */
  scaleToZeroGraceSeconds: 30,
  /** Least time the last replica stays after the decider first recommends zero (0: only the grace applies). */
  scaleToZeroRetentionSeconds: 0,
  /** Same, for revisions whose replicas request GPUs (a GPU model is slow to load: keep it warm longer). */
  gpuScaleToZeroRetentionSeconds: 600,
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
  /** How 1-second buckets are averaged over a window: `linear` or `weighted-exponential`. */
  windowAlgorithm: 'linear',
  /** In `weighted-exponential`, weight of the oldest second of the window relative to the newest. */
  weightedExponentialOldestWeight: 0.05,
  /** CPU/memory policy: per-replica target in percent of one CPU / of the memory limit. */
  cpuTargetPercent: 80,
  memoryTargetPercent: 80,
  /** CPU/memory policy: no change while usage/target is within ±this percent of 1. */
  resourceTolerancePercent: 10,
  /** CPU/memory policy: scale down only to the highest recommendation of this window. */
  resourceScaleDownStabilizationSeconds: 300,
  /** GPU policy: weight of the newest cold start in the time-to-ready average (EWMA). */
  startupEwmaAlpha: 0.3,
  /** GPU policy: time-to-ready assumed before any cold start was observed. */
  startupDefaultSeconds: 30,
  /** Keep-warm: `fixed` (grace/retention only) or `adaptive` (idle-gap histogram, ATC'20 hybrid policy). */
  keepWarm: 'fixed',
  /** Adaptive keep-warm: width of one idle-gap histogram bin. */
  keepWarmBinSeconds: 10,
  /** Adaptive keep-warm: longest idle gap the histogram tracks (longer gaps count as out of range). */
  keepWarmRangeSeconds: 3600,
  /** Adaptive keep-warm: idle gaps needed before the histogram is trusted. */
  keepWarmMinSamples: 8,
  /** Adaptive keep-warm: keep a replica until this percentile of idle gaps (plus a 10 % margin). */
  keepWarmKeepAlivePercentile: 99,
  /** Adaptive keep-warm: go to zero until this percentile of idle gaps, then pre-warm one replica. */
  keepWarmPrewarmPercentile: 5,
} as const;

export type WindowAlgorithm = 'linear' | 'weighted-exponential';
export type KeepWarmMode = 'fixed' | 'adaptive';

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
  /** How the windows average their buckets. */
  windowAlgorithm: WindowAlgorithm;
  /** GPUs per replica, summed over resource names (0: a CPU revision). */
  gpusPerReplica: number;
  /** Keep-warm policy applied after the decider. */
  keepWarm: KeepWarmMode;
  /** Start-up aware demand (starting replicas count, queue-aware demand, scale-ahead); default: GPU revisions only. */
  startupAware: boolean;
}

/** Settings that have no InferenceService field; the YAML layer passes them from `autoscaling.sluice.dev/*` annotations. */
export interface DeciderSettingsOptions {
  /** GPUs per replica by resource name (Revision.gpus). A GPU revision gets the longer default retention. */
  gpus?: Record<string, number>;
  /** `autoscaling.sluice.dev/window-algorithm`. */
  windowAlgorithm?: WindowAlgorithm;
  /** `autoscaling.sluice.dev/keep-warm`. */
  keepWarm?: KeepWarmMode;
  /** `autoscaling.sluice.dev/startup-aware` (default: true for GPU revisions, false otherwise — plain KPA). */
  startupAware?: boolean;
  /** Config-wide `scaleToZeroGraceSeconds` (Knative: scale-to-zero-grace-period, not per revision). */
  scaleToZeroGraceSeconds?: number;
  /** Config-wide max scale-up / scale-down rates (Knative: max-scale-up-rate, max-scale-down-rate). */
  maxScaleUpRate?: number;
  maxScaleDownRate?: number;
}

/** Sum of the GPUs one replica requests, over every GPU resource name. */
export function gpusPerReplica(gpus: Record<string, number> | undefined): number {
  if (!gpus) return 0;
  let n = 0;
  for (const v of Object.values(gpus)) if (Number.isFinite(v) && v > 0) n += v;
  return n;
}

/** Resolves a revision's autoscaling spec against the defaults. `containerConcurrency` 0 means unbounded. */
export function deciderSettings(
  spec: AutoscalingSpec,
  containerConcurrency: number,
  opts: DeciderSettingsOptions = {},
): DeciderSettings {
  const d = AUTOSCALING_DEFAULTS;
  const metric = spec.metric === 'rps' ? 'rps' : 'concurrency';
  const utilization = (spec.targetUtilizationPercent ?? d.targetUtilizationPercent) / 100;
  let totalTarget: number;
  if (spec.target !== null && spec.target > 0 && (spec.metric === 'concurrency' || spec.metric === 'rps'))
    totalTarget = spec.target;
  else if (metric === 'rps') totalTarget = d.rpsTarget;
  else totalTarget = containerConcurrency > 0 ? containerConcurrency : d.concurrencyTarget;
  if (metric === 'concurrency' && containerConcurrency > 0) totalTarget = Math.min(totalTarget, containerConcurrency);
  const stableWindowMs = (spec.stableWindowSeconds ?? d.stableWindowSeconds) * 1000;
  const panicWindowMs = Math.max(1000, (stableWindowMs * (spec.panicWindowPercent ?? d.panicWindowPercent)) / 100);
  const maxScale = spec.maxReplicas > 0 ? spec.maxReplicas : d.maxReplicasCap;
  const gpus = gpusPerReplica(opts.gpus);
  const retentionDefault = gpus > 0 ? d.gpuScaleToZeroRetentionSeconds : d.scaleToZeroRetentionSeconds;
  return {
    metric,
    target: Math.max(0.01, totalTarget * utilization),
    totalTarget,
    stableWindowMs,
    panicWindowMs,
    panicThreshold: (spec.panicThresholdPercent ?? d.panicThresholdPercent) / 100,
    maxScaleUpRate: opts.maxScaleUpRate ?? d.maxScaleUpRate,
    maxScaleDownRate: opts.maxScaleDownRate ?? d.maxScaleDownRate,
    minScale: Math.min(spec.minReplicas, maxScale),
    maxScale,
    initialScale: spec.initialScale ?? d.initialScale,
    activationScale: Math.max(1, spec.activationScale ?? d.activationScale),
    scaleToZeroGraceMs: (opts.scaleToZeroGraceSeconds ?? d.scaleToZeroGraceSeconds) * 1000,
    scaleToZeroRetentionMs: (spec.scaleToZeroRetentionSeconds ?? retentionDefault) * 1000,
    scaleDownDelayMs: (spec.scaleDownDelaySeconds ?? d.scaleDownDelaySeconds) * 1000,
    targetBurstCapacity: spec.targetBurstCapacity ?? d.targetBurstCapacity,
    windowAlgorithm: opts.windowAlgorithm ?? d.windowAlgorithm,
    gpusPerReplica: gpus,
    keepWarm: opts.keepWarm ?? d.keepWarm,
    startupAware: opts.startupAware ?? gpus > 0,
  };
}
