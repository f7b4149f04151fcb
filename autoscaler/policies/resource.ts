import type { AutoscalingSpec } from '../../api/revision.js';
import { AUTOSCALING_DEFAULTS } from '../settings.js';
import { applyBounds } from '../bounds.js';

/** One replica's resource usage now. */
export interface ReplicaUsage {
  replicaId: string;
  /** Percent of one CPU (100 = one core busy). */
  cpuPercent: number;
  /** Percent of the replica's memory limit (or of the machine's memory when it has none). */
  memoryPercent: number;
}

/**
 * Where the CPU/memory policy reads usage. Local backend: /proc of its child processes
 * (deploy/backends/local/usage.ts). Kubernetes: the metrics.k8s.io PodMetrics of the revision's pods, divided by
 * the containers' requests (as the HPA does) — to be implemented by the Kubernetes backend.
 */
export interface ResourceUsageSource {
  /** Usage of the revision's ready replicas; empty when nothing is known yet. */
  usage(revisionKey: string): ReplicaUsage[];
}

export interface ResourcePolicySettings {
  metric: 'cpu' | 'memory';
  /** Target utilization per replica, percent. */
  targetPercent: number;
  /** No change while |usage/target − 1| ≤ tolerance (fraction). */
  tolerance: number;
  /** Scale down only to the highest recommendation of this window. */
  scaleDownStabilizationMs: number;
  minScale: number;
  maxScale: number;
}

export interface ResourceState {
  /** Highest recommendation per second within the stabilization window, oldest first (bounded by it). */
  recommendations: Array<{ at: number; desired: number }>;
}

export function initialResourceState(): ResourceState {
  return { recommendations: [] };
}

/** `maxReplicasCap`: the process's cap for revisions whose maxReplicas is 0 (configuration table). */
export function resourcePolicySettings(spec: AutoscalingSpec, maxReplicasCap: number = AUTOSCALING_DEFAULTS.maxReplicasCap): ResourcePolicySettings {
  const d = AUTOSCALING_DEFAULTS;
  const metric = spec.metric === 'memory' ? 'memory' : 'cpu';
  const target = spec.target !== null && spec.target > 0 ? spec.target : metric === 'cpu' ? d.cpuTargetPercent : d.memoryTargetPercent;
  const maxScale = spec.maxReplicas > 0 ? spec.maxReplicas : maxReplicasCap;
  return {
    metric,
    targetPercent: target,
    tolerance: d.resourceTolerancePercent / 100,
    scaleDownStabilizationMs: d.resourceScaleDownStabilizationSeconds * 1000,
    // Like the HPA, the CPU/memory policy never scales to zero: an idle replica uses no CPU to wake it with.
    minScale: Math.max(1, Math.min(spec.minReplicas, maxScale)),
    maxScale,
  };
}

/**
 * HPA-style decision: desired = ceil(replicas × average usage / target), unchanged inside the tolerance band,
 * scale-ups at once, scale-downs only to the highest recommendation of the stabilization window. Pure.
 */
export function resourceDecide(
  input: { now: number; currentReplicas: number; usage: readonly ReplicaUsage[] },
  s: ResourcePolicySettings,
  prev: ResourceState,
): { desired: number; reason: string; averagePercent: number | null; state: ResourceState } {
  const now = input.now;
  const current = Math.max(0, input.currentReplicas);
  let desired: number;
  let reason: string;
  let average: number | null = null;
  if (input.usage.length === 0) {
    desired = Math.max(current, s.minScale);
    reason = 'no-metrics';
  } else {
    const values = input.usage.map((u) => (s.metric === 'cpu' ? u.cpuPercent : u.memoryPercent));
    average = values.reduce((a, b) => a + b, 0) / values.length;
    const ratio = average / s.targetPercent;
    // Replicas without metrics yet (starting) neither add nor remove load: scale from the ones measured.
    const measured = values.length;
    if (Math.abs(ratio - 1) <= s.tolerance) {
      desired = current;
      reason = 'within-tolerance';
    } else {
      desired = Math.ceil(measured * ratio);
      reason = ratio > 1 ? `${s.metric}-above-target` : `${s.metric}-below-target`;
    }
  }
  // Stabilization: remember the highest recommendation per second, scale down only to the window's maximum.
  const second = Math.floor(now / 1000) * 1000;
  const recs = prev.recommendations.filter((r) => now - r.at < s.scaleDownStabilizationMs);
  const last = recs[recs.length - 1];
  if (last && last.at === second) recs[recs.length - 1] = { at: second, desired: Math.max(last.desired, desired) };
  else recs.push({ at: second, desired });
  if (desired < current) {
    let held = desired;
    for (const r of recs) held = Math.max(held, r.desired);
    const stabilized = Math.min(held, current);
    if (stabilized > desired) {
      desired = stabilized;
      reason = 'scale-down-stabilization';
    }
  }
  ({ desired, reason } = applyBounds(desired, reason, s));
  return { desired, reason, averagePercent: average, state: { recommendations: recs } };
}
