import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.js';
import { parseInferenceService } from './inferenceservice.js';

function isvc(predictor: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'iris' }): unknown {
  return { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata, spec: { predictor } };
}

const sklearn = { model: { modelFormat: { name: 'sklearn' }, storageUri: 'gs://bucket/model' } };

function issuesOf(doc: unknown): { path: string; message: string }[] {
  try {
    parseInferenceService(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

function messages(doc: unknown): string[] {
  return issuesOf(doc).map((i) => `${i.path}: ${i.message}`);
}

describe('parseInferenceService', () => {
  it('accepts a minimal model predictor and defaults namespace, args, env, resources', () => {
    const { object, warnings } = parseInferenceService(isvc(sklearn));
    expect(warnings).toEqual([]);
    expect(object.metadata.namespace).toBe('default');
    expect(object.spec.predictor.model).toEqual({
      modelFormat: { name: 'sklearn' },
      storageUri: 'gs://bucket/model',
      args: [],
      env: [],
      resources: { requests: {}, limits: {} },
    });
  });

  it('names the path and the allowed values for a bad scaleMetric', () => {
    const doc = isvc({ ...sklearn, scaleMetric: 'qps' });
    expect(messages(doc)).toEqual(['spec.predictor.scaleMetric: "qps" is not one of concurrency, rps, cpu, memory']);
    expect(() => parseInferenceService(doc)).toThrow(
      'spec.predictor.scaleMetric: "qps" is not one of concurrency, rps, cpu, memory',
    );
  });

  it('reports unknown fields with their path and what is allowed', () => {
    const [issue, ...rest] = issuesOf(isvc({ ...sklearn, foo: 1 }));
    expect(rest).toEqual([]);
    expect(issue?.path).toBe('spec.predictor.foo');
    expect(issue?.message).toMatch(/^unknown field \(allowed: model, sklearn, .*minReplicas.*\)$/);
    expect(messages(isvc({ model: { ...sklearn.model, storageURI: 'x' } }))[0]).toMatch(
      /^spec\.predictor\.model\.storageURI: unknown field \(allowed: modelFormat, runtime, name, image/,
    );
  });

  it('rejects a name that is not a DNS-1035 label', () => {
    expect(messages(isvc(sklearn, { name: 'Iris_1' }))).toEqual([
      `metadata.name: "Iris_1" is not a valid DNS-1035 label (lower-case letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters)`,
    ]);
    expect(messages(isvc(sklearn, { name: '1iris' }))[0]).toMatch(/^metadata\.name: "1iris" is not a valid DNS-1035/);
  });

  it('says expected vs got for type errors and reports a missing field as required', () => {
    expect(messages(isvc({ ...sklearn, minReplicas: 'two' }))).toEqual([
      'spec.predictor.minReplicas: expected a number, got a string "two"',
    ]);
    expect(messages(isvc({ model: { storageUri: 'x' } }))).toEqual(['spec.predictor.model.modelFormat: required (an object)']);
  });

  it('checks ranges with the value found', () => {
    expect(messages(isvc({ ...sklearn, canaryTrafficPercent: 120 }))).toEqual([
      'spec.predictor.canaryTrafficPercent: must be ≤ 100, got 120',
    ]);
    expect(messages(isvc({ ...sklearn, model: { ...sklearn.model, protocolVersion: 'v3' } }))).toEqual([
      'spec.predictor.model.protocolVersion: "v3" is not one of v1, v2, grpc-v1, grpc-v2',
    ]);
    expect(messages(isvc({ ...sklearn, logger: { url: 'http://sink/', mode: 'everything' } }))).toEqual([
      'spec.predictor.logger.mode: "everything" is not one of all, request, response',
    ]);
  });

  it('checks the logger: a URL is required, and must be http(s) or an absolute file:/// path', () => {
    expect(messages(isvc({ ...sklearn, logger: { mode: 'all' } }))).toEqual([
      'spec.predictor.logger.url: required (a string)',
    ]);
    for (const url of ['kafka://broker/topic', 'logs/iris.jsonl', 'file://host/x.jsonl', 'http:///nohost'])
      expect(messages(isvc({ ...sklearn, logger: { url } }))).toEqual([
        'spec.predictor.logger.url: expected an absolute http://, https:// or file:/// URL, e.g. http://logger.example/ or file:///var/log/iris.jsonl',
      ]);
    const ok = parseInferenceService(isvc({ ...sklearn, logger: { url: 'file:///tmp/iris.jsonl' } }));
    expect(ok.object.spec.predictor.logger).toEqual({ url: 'file:///tmp/iris.jsonl', mode: 'all' });
    expect(ok.warnings).toEqual([]);
  });

  it('requires exactly one of model, a framework key or containers', () => {
    expect(messages(isvc({ ...sklearn, sklearn: { storageUri: 'gs://x' } }))).toEqual([
      'spec.predictor: exactly one of model, a framework key (sklearn, xgboost, tensorflow, pytorch, triton, onnx, pmml, lightgbm, paddle, huggingface) or containers may be set; found model, sklearn',
    ]);
    expect(messages(isvc({ minReplicas: 0 }))[0]).toMatch(/^spec\.predictor: one of model, sklearn, .*, containers is required$/);
  });

  it('rewrites legacy framework keys to model', () => {
    const { object } = parseInferenceService(isvc({ sklearn: { storageUri: 'gs://x', runtimeVersion: '0.13.0' } }));
    expect(object.spec.predictor).toEqual({
      model: {
        modelFormat: { name: 'sklearn' },
        storageUri: 'gs://x',
        runtimeVersion: '0.13.0',
        args: [],
        env: [],
        resources: { requests: {}, limits: {} },
      },
    });
    expect('sklearn' in object.spec.predictor).toBe(false);
    for (const key of ['xgboost', 'tensorflow', 'pytorch', 'pmml', 'lightgbm', 'huggingface']) {
      const p = parseInferenceService(isvc({ [key]: { storageUri: 'gs://x' } })).object.spec.predictor;
      expect(p.model?.modelFormat.name).toBe(key);
      expect(p.model?.protocolVersion).toBeUndefined();
    }
  });

  it('gives triton and onnx legacy keys protocol v2 unless set, as KServe does', () => {
    expect(parseInferenceService(isvc({ triton: { storageUri: 'gs://x' } })).object.spec.predictor.model).toMatchObject({
      modelFormat: { name: 'triton' },
      protocolVersion: 'v2',
    });
    expect(parseInferenceService(isvc({ onnx: { storageUri: 'gs://x' } })).object.spec.predictor.model).toMatchObject({
      modelFormat: { name: 'onnx' },
      protocolVersion: 'v2',
    });
    expect(
      parseInferenceService(isvc({ onnx: { storageUri: 'gs://x', protocolVersion: 'grpc-v2' } })).object.spec.predictor.model
        ?.protocolVersion,
    ).toBe('grpc-v2');
  });

  it('rejects modelFormat under a legacy key (it is implied)', () => {
    expect(messages(isvc({ sklearn: { modelFormat: { name: 'sklearn' } } }))[0]).toMatch(
      /^spec\.predictor\.sklearn\.modelFormat: unknown field/,
    );
  });

  it('accepts custom containers, component fields and a transformer', () => {
    const doc = {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'custom', namespace: 'ml', labels: { team: 'a' } },
      spec: {
        predictor: {
          minReplicas: 0,
          maxReplicas: 5,
          scaleTarget: 10,
          scaleMetric: 'rps',
          containerConcurrency: 4,
          timeout: 60,
          canaryTrafficPercent: 10,
          batcher: { maxBatchSize: 32, maxLatency: 500 },
          logger: { url: 'http://logger.local/', mode: 'request' },
          containers: [{ image: 'me/model:1', env: [{ name: 'A', value: '1' }], resources: { limits: { cpu: 2 } } }],
        },
        transformer: { containers: [{ name: 'kserve-container', image: 'me/transformer:1' }] },
      },
    };
    const { object } = parseInferenceService(doc);
    expect(object.metadata.namespace).toBe('ml');
    expect(object.spec.predictor.containers?.[0]).toMatchObject({ name: 'kserve-container', image: 'me/model:1', resources: { limits: { cpu: '2' } } });
    expect(object.spec.predictor.batcher).toEqual({ maxBatchSize: 32, maxLatency: 500 });
    expect(object.spec.transformer?.containers[0]?.image).toBe('me/transformer:1');
  });

  it('requires containers on a transformer', () => {
    const doc = { ...(isvc(sklearn) as object), spec: { predictor: sklearn, transformer: { minReplicas: 1 } } };
    expect(messages(doc)).toEqual(['spec.transformer.containers: required (a list)']);
  });

  it('accepts a custom explainer and refuses KServe\'s built-in explainers by field path', () => {
    const ok = { ...(isvc(sklearn) as object), spec: { predictor: sklearn, explainer: { minReplicas: 0, canaryTrafficPercent: 20, containers: [{ image: 'me/explainer:1' }] } } };
    const { object, warnings } = parseInferenceService(ok);
    expect(object.spec.explainer?.containers[0]?.image).toBe('me/explainer:1');
    expect(object.spec.explainer?.canaryTrafficPercent).toBe(20);
    expect(warnings).toEqual([]);
    const art = { ...(isvc(sklearn) as object), spec: { predictor: sklearn, explainer: { art: { type: 'SquareAttack' }, containers: [{ image: 'x' }] } } };
    expect(messages(art)).toEqual([
      "spec.explainer.art: KServe's built-in art explainer has no runtime in Sluice; run your explainer as a custom container under spec.explainer.containers",
    ]);
    const none = { ...(isvc(sklearn) as object), spec: { predictor: sklearn, explainer: { minReplicas: 1 } } };
    expect(messages(none)).toEqual(['spec.explainer.containers: required (a list)']);
  });

  it('drops a status block sent back from a GET', () => {
    const { object } = parseInferenceService({ ...(isvc(sklearn) as object), status: { url: 'http://x' } });
    expect('status' in object).toBe(false);
  });
});

describe('annotations', () => {
  const withAnnotations = (annotations: Record<string, unknown>): unknown => isvc(sklearn, { name: 'iris', annotations });

  it('validates known autoscaling.knative.dev values', () => {
    expect(
      messages(
        withAnnotations({
          'autoscaling.knative.dev/metric': 'qps',
          'autoscaling.knative.dev/window': '2s',
          'autoscaling.knative.dev/panic-window-percentage': '0',
          'autoscaling.knative.dev/panic-threshold-percentage': '100',
          'autoscaling.knative.dev/target-burst-capacity': '-2',
          'autoscaling.knative.dev/min-scale': 'one',
          'autoscaling.knative.dev/scale-down-delay': '2h',
          'autoscaling.knative.dev/target-utilization-percentage': '101',
          'autoscaling.knative.dev/class': 'foo',
        }),
      ),
    ).toEqual([
      'metadata.annotations["autoscaling.knative.dev/metric"]: "qps" is not one of concurrency, rps, cpu, memory',
      'metadata.annotations["autoscaling.knative.dev/window"]: must be between 6s and 1h, got 2s',
      'metadata.annotations["autoscaling.knative.dev/panic-window-percentage"]: must be between 1 and 100, got 0',
      'metadata.annotations["autoscaling.knative.dev/panic-threshold-percentage"]: must be between 110 and 1000, got 100',
      'metadata.annotations["autoscaling.knative.dev/target-burst-capacity"]: must be ≥ 0 (or -1), got -2',
      'metadata.annotations["autoscaling.knative.dev/min-scale"]: expected an integer, got "one"',
      'metadata.annotations["autoscaling.knative.dev/scale-down-delay"]: must be between 0s and 1h, got 2h',
      'metadata.annotations["autoscaling.knative.dev/target-utilization-percentage"]: must be between 1 and 100, got 101',
      'metadata.annotations["autoscaling.knative.dev/class"]: "foo" is not one of kpa.autoscaling.knative.dev, hpa.autoscaling.knative.dev',
    ]);
  });

  it('validates the progress deadline and the start failure limit of a new revision', () => {
    expect(
      messages(withAnnotations({ 'serving.knative.dev/progress-deadline': 'ten minutes', 'sluice.dev/max-start-failures': '0' })),
    ).toEqual([
      'metadata.annotations["serving.knative.dev/progress-deadline"]: expected a duration like "60s", "1m30s" or "1h", got "ten minutes"',
      'metadata.annotations["sluice.dev/max-start-failures"]: must be between 1 and 100, got 0',
    ]);
    expect(messages(withAnnotations({ 'serving.knative.dev/progress-deadline': '0s' }))).toEqual([
      'metadata.annotations["serving.knative.dev/progress-deadline"]: must be between 1s and 24h, got 0s',
    ]);
    const { warnings } = parseInferenceService(withAnnotations({ 'serving.knative.dev/progress-deadline': '2m', 'sluice.dev/max-start-failures': '5' }));
    expect(warnings).toEqual([]);
  });

  it('accepts good autoscaling values', () => {
    const { object, warnings } = parseInferenceService(
      withAnnotations({
        'autoscaling.knative.dev/window': '1m30s',
        'autoscaling.knative.dev/target-burst-capacity': '-1',
        'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '5m',
        'autoscaling.knative.dev/target': '2.5',
      }),
    );
    expect(warnings).toEqual([]);
    expect(object.metadata.annotations['autoscaling.knative.dev/window']).toBe('1m30s');
  });

  it('rejects an unknown autoscaling key, naming the known ones', () => {
    const [m] = messages(withAnnotations({ 'autoscaling.knative.dev/minscale': '1' }));
    expect(m).toMatch(/^metadata\.annotations\["autoscaling\.knative\.dev\/minscale"\]: unknown autoscaling annotation \(known: class, metric, target, .*min-scale.*\)$/);
  });

  it('warns about an unknown serving.kserve.io key and checks known ones', () => {
    const { warnings } = parseInferenceService(withAnnotations({ 'serving.kserve.io/something-new': 'x' }));
    expect(warnings).toEqual(['metadata.annotations["serving.kserve.io/something-new"]: unknown serving.kserve.io annotation, ignored by Sluice']);
    expect(messages(withAnnotations({ 'serving.kserve.io/deploymentMode': 'Fast' }))).toEqual([
      'metadata.annotations["serving.kserve.io/deploymentMode"]: "Fast" is not one of Serverless, RawDeployment, ModelMesh, Standard',
    ]);
  });

  it('asks to quote a bare number annotation', () => {
    expect(messages(withAnnotations({ 'autoscaling.knative.dev/min-scale': 1 }))).toEqual([
      'metadata.annotations["autoscaling.knative.dev/min-scale"]: expected a string, got 1 (quote it: "1")',
    ]);
  });

  it('reports schema and annotation problems together', () => {
    const doc = isvc({ ...sklearn, scaleMetric: 'qps' }, { name: 'iris', annotations: { 'autoscaling.knative.dev/window': 'soon' } });
    expect(messages(doc)).toEqual([
      'spec.predictor.scaleMetric: "qps" is not one of concurrency, rps, cpu, memory',
      'metadata.annotations["autoscaling.knative.dev/window"]: expected a duration like "60s", "1m30s" or "1h", got "soon"',
    ]);
  });
});
