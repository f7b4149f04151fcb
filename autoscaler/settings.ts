import type { AutoscalingSpec } from '../api/revision.js';
import { SERVE_DEFAULTS, type ServeConfig } from '../core/config.js';

/**
 * The cluster-wide autoscaling settings (Knative's config-autoscaler): settings of the process, in the one
 * configuration table (core/config-table.ts), where their defaults are written. Most can be overridden per revision
 * through InferenceService fields or `autoscaling.knative.dev/*` annotations (see docs/autoscaling.md).
 */
export const CLUSTER_AUTOSCALING_KEYS = [
  'concurrencyTarget',
  'rpsTarget',
  'targetUtilizationPercent',
  'stableWindowSeconds',
  'panicWindowPercent',
  'panicThresholdPercent',
  'maxScaleUpRate',
  'maxScaleDownRate',
  'scaleToZeroGraceSeconds',
  'scaleToZeroRetentionSeconds',
  'gpuScaleToZeroRetentionSeconds',
  'scaleDownDelaySeconds',
  'initialScale',
  'targetBurstCapacity',
  'tickSeconds',
  'maxReplicasCap',
] as const satisfies readonly (keyof ServeConfig)[];

export type ClusterAutoscalingDefaults = Pick<ServeConfig, (typeof CLUSTER_AUTOSCALING_KEYS)[number]>;

/** The cluster-wide autoscaling settings of a configuration. */
export function clusterAutoscalingDefaults(cfg: ClusterAutoscalingDefaults): ClusterAutoscalingDefaults {
  return Object.fromEntries(CLUSTER_AUTOSCALING_KEYS.map((k) => [k, cfg[k]])) as ClusterAutoscalingDefaults;
}

/**
 * Defaults for every autoscaling setting: the cluster-wide ones from the configuration table's defaults, and
 * those of Sluice's own policies, which only annotations (`autoscaling.sluice.dev/*`) or nothing override.
 */
export const AUTOSCALING_DEFAULTS = {
  ...clusterAutoscalingDefaults(SERVE_DEFAULTS),
  /** Replicas a revision asks for when a request arrives at zero (annotation only, as in Knative). */
  activationScale: 1,
  /** How 1-second buckets are averaged over a window: `linear` or `weighted-exponential`. */
  windowAlgorithm: 'linear' as WindowAlgorithm,
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
  keepWarm: 'fixed' as KeepWarmMode,
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
  /** This process's cluster-wide settings (default: the table's defaults); a revision's own fields win over them. */
  defaults?: ClusterAutoscalingDefaults;
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
  const d = opts.defaults ? { ...AUTOSCALING_DEFAULTS, ...opts.defaults } : AUTOSCALING_DEFAULTS;
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
