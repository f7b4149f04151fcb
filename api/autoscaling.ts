/**
 * A component's autoscaling settings from its fields and the `autoscaling.knative.dev/*` annotations
 * (object-level, overridden by component-level annotations; component fields win over both).
 * KServe defaults applied here: minReplicas 1 when nothing sets it (KServe's DefaultMinReplicas; use
 * `minReplicas: 0` to scale to zero), maxReplicas 0 = no limit, metric concurrency. Every other number stays null:
 * the autoscaler owns those defaults.
 */
import { AUTOSCALING_PREFIX, SLUICE_AUTOSCALING_PREFIX } from './annotations.js';
import { parseDurationSeconds } from './duration.js';
import { componentOf, type ComponentName, type InferenceService, type ScaleMetric } from './inferenceservice.js';
import type { AutoscalingSpec } from './revision.js';

export const DEFAULT_MIN_REPLICAS = 1;

export function autoscalingFor(isvc: InferenceService, component: ComponentName): AutoscalingSpec {
  const spec = componentOf(isvc, component);
  if (spec === undefined) throw new Error(`InferenceService ${isvc.metadata.name} has no ${component}`);
  const annotations: Record<string, string> = { ...isvc.metadata.annotations, ...(spec.annotations ?? {}) };
  const get = (name: string): string | undefined => annotations[AUTOSCALING_PREFIX + name];
  const num = (name: string): number | null => {
    const v = get(name);
    if (v === undefined || v.trim() === '') return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  };
  const seconds = (name: string): number | null => {
    const v = get(name);
    return v === undefined ? null : parseDurationSeconds(v);
  };
  const metric = (spec.scaleMetric ?? (get('metric') as ScaleMetric | undefined) ?? 'concurrency') satisfies ScaleMetric;
  return {
    metric,
    target: spec.scaleTarget ?? num('target'),
    targetUtilizationPercent: num('target-utilization-percentage'),
    minReplicas: spec.minReplicas ?? num('min-scale') ?? num('minScale') ?? DEFAULT_MIN_REPLICAS,
    maxReplicas: spec.maxReplicas ?? num('max-scale') ?? num('maxScale') ?? 0,
    initialScale: num('initial-scale'),
    activationScale: num('activation-scale'),
    stableWindowSeconds: seconds('window'),
    panicWindowPercent: num('panic-window-percentage'),
    panicThresholdPercent: num('panic-threshold-percentage'),
    scaleDownDelaySeconds: seconds('scale-down-delay'),
    scaleToZeroRetentionSeconds: seconds('scale-to-zero-pod-retention-period'),
    targetBurstCapacity: num('target-burst-capacity'),
    ...sluicePolicies(annotations),
  };
}

/** The validated `autoscaling.sluice.dev/*` annotations, as AutoscalingSpec.sluice (omitted when none is set). */
function sluicePolicies(annotations: Record<string, string>): Pick<AutoscalingSpec, 'sluice'> {
  const get = (name: string): string | undefined => annotations[SLUICE_AUTOSCALING_PREFIX + name];
  const out: NonNullable<AutoscalingSpec['sluice']> = {};
  const w = get('window-algorithm');
  if (w === 'linear' || w === 'weighted-exponential') out.windowAlgorithm = w;
  const k = get('keep-warm');
  if (k === 'fixed' || k === 'adaptive') out.keepWarm = k;
  const st = get('startup-aware');
  if (st === 'true' || st === 'false') out.startupAware = st === 'true';
  return Object.keys(out).length > 0 ? { sluice: out } : {};
}
