import { describe, expect, it } from 'vitest';
import { autoscalingFor } from './autoscaling.js';
import { parseInferenceService } from './inferenceservice.js';

function parse(predictor: Record<string, unknown>, annotations: Record<string, string> = {}) {
  return parseInferenceService({
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'iris', annotations },
    spec: { predictor: { model: { modelFormat: { name: 'sklearn' } }, ...predictor } },
  }).object;
}

describe('autoscalingFor', () => {
  it('applies KServe defaults and leaves the rest to the autoscaler', () => {
    expect(autoscalingFor(parse({}), 'predictor')).toEqual({
      metric: 'concurrency',
      target: null,
      targetUtilizationPercent: null,
      minReplicas: 1,
      maxReplicas: 0,
      initialScale: null,
      activationScale: null,
      stableWindowSeconds: null,
      panicWindowPercent: null,
      panicThresholdPercent: null,
      scaleDownDelaySeconds: null,
      scaleToZeroRetentionSeconds: null,
      targetBurstCapacity: null,
    });
  });

  it('reads every annotation, parsing durations to seconds', () => {
    const a = autoscalingFor(
      parse({}, {
        'autoscaling.knative.dev/metric': 'rps',
        'autoscaling.knative.dev/target': '20',
        'autoscaling.knative.dev/target-utilization-percentage': '80',
        'autoscaling.knative.dev/min-scale': '0',
        'autoscaling.knative.dev/max-scale': '7',
        'autoscaling.knative.dev/initial-scale': '2',
        'autoscaling.knative.dev/activation-scale': '3',
        'autoscaling.knative.dev/window': '1m30s',
        'autoscaling.knative.dev/panic-window-percentage': '20',
        'autoscaling.knative.dev/panic-threshold-percentage': '150',
        'autoscaling.knative.dev/scale-down-delay': '15s',
        'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '2m',
        'autoscaling.knative.dev/target-burst-capacity': '-1',
      }),
      'predictor',
    );
    expect(a).toEqual({
      metric: 'rps',
      target: 20,
      targetUtilizationPercent: 80,
      minReplicas: 0,
      maxReplicas: 7,
      initialScale: 2,
      activationScale: 3,
      stableWindowSeconds: 90,
      panicWindowPercent: 20,
      panicThresholdPercent: 150,
      scaleDownDelaySeconds: 15,
      scaleToZeroRetentionSeconds: 120,
      targetBurstCapacity: -1,
    });
  });

  it('lets component fields win over annotations', () => {
    const a = autoscalingFor(
      parse(
        { minReplicas: 2, maxReplicas: 4, scaleMetric: 'cpu', scaleTarget: 60 },
        { 'autoscaling.knative.dev/min-scale': '0', 'autoscaling.knative.dev/max-scale': '9', 'autoscaling.knative.dev/metric': 'rps', 'autoscaling.knative.dev/target': '5' },
      ),
      'predictor',
    );
    expect(a).toMatchObject({ minReplicas: 2, maxReplicas: 4, metric: 'cpu', target: 60 });
  });

  it('reads component-level annotations over object-level ones', () => {
    const a = autoscalingFor(
      parse({ annotations: { 'autoscaling.knative.dev/window': '30s' } }, { 'autoscaling.knative.dev/window': '60s' }),
      'predictor',
    );
    expect(a.stableWindowSeconds).toBe(30);
  });
});
