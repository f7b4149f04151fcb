import { describe, expect, it } from 'vitest';
import { defaultInferenceService } from './defaulting.js';
import { parseInferenceService, type InferenceService } from '../api/inferenceservice.js';
import { builtinCatalogueDir, loadCatalogue, type RuntimeCatalogue } from './runtime-catalogue.js';
import { buildRevision, replaceImageTag, servingHash } from './revision-builder.js';
import { revisionView } from '../gateway/data-plane.js';

const builtin = loadCatalogue([builtinCatalogueDir()]);
const opts = { generation: 1, createdAt: '2026-01-01T00:00:00.000Z' };

function parse(spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'iris' }): InferenceService {
  return parseInferenceService({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata, spec }).object;
}

function revisionOf(isvc: InferenceService, catalogue: RuntimeCatalogue = builtin) {
  return buildRevision(defaultInferenceService(isvc, catalogue), 'predictor', catalogue, opts);
}

const sklearn = { model: { modelFormat: { name: 'sklearn' }, storageUri: 'gs://bucket/iris' } };

describe('buildRevision', () => {
  it('carries the predictor\'s logger to the data plane\'s view of the revision, and a new logger is a new revision', () => {
    const logged = parse({ predictor: { ...sklearn, logger: { url: 'http://sink.example/events', mode: 'response' } } });
    expect(revisionView(revisionOf(logged)).logger).toEqual({ url: 'http://sink.example/events', mode: 'response', component: 'predictor' });
    const plain = parse({ predictor: sklearn });
    expect(revisionView(revisionOf(plain)).logger).toBeUndefined();
    expect(servingHash(logged, 'predictor')).not.toBe(servingHash(plain, 'predictor'));
  });

  it('resolves the runtime container and the revision fields', () => {
    const rev = revisionOf(parse({ predictor: sklearn }));
    expect(rev).toMatchObject({
      name: 'iris-predictor-00001',
      namespace: 'default',
      service: 'iris',
      component: 'predictor',
      generation: 1,
      createdAt: opts.createdAt,
      modelName: 'iris',
      runtimeModelName: 'iris',
      runtime: { name: 'kserve-sklearnserver', kind: 'ClusterServingRuntime', protocolVersion: 'v1' },
      storageUri: 'gs://bucket/iris',
      containerConcurrency: 0,
      timeoutSeconds: 300,
      gpus: {},
    });
    // The built-in catalogue ships a local launch recipe for the sklearn server (deploy/catalogue/local/).
    expect(rev.local?.readinessPath).toBe('/v2/health/ready');
    expect(rev.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(rev.container).toEqual({
      image: 'kserve/sklearnserver:v0.14.1',
      command: [],
      args: ['--model_name=iris', '--model_dir=/mnt/models', '--http_port=8080'],
      env: {},
      resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } },
    });
    expect(rev.autoscaling).toMatchObject({ metric: 'concurrency', minReplicas: 1, maxReplicas: 0, target: null });
  });

  it("carries the container's declared ports (the model's replace the runtime's), for the Kubernetes backend", () => {
    const rev = revisionOf(parse({ predictor: { model: { ...sklearn.model, ports: [{ name: 'h2c', containerPort: 8081, protocol: 'TCP' }] } } }));
    expect(rev.container.ports).toEqual([{ name: 'h2c', containerPort: 8081, protocol: 'TCP' }]);
    const custom = revisionOf(parse({ predictor: { containers: [{ name: 'kserve-container', image: 'x/y:1', ports: [{ name: 'grpc', containerPort: 9000 }] }] } }));
    expect(custom.container.ports).toEqual([{ name: 'grpc', containerPort: 9000 }]);
  });

  it('replaces the image tag with runtimeVersion and merges args, env and resources with the model', () => {
    const rev = revisionOf(
      parse({
        predictor: {
          containerConcurrency: 2,
          timeout: 30,
          model: {
            ...sklearn.model,
            runtimeVersion: 'v0.13.0',
            args: ['--workers=2'],
            env: [{ name: 'LOG_LEVEL', value: 'debug' }],
            resources: { limits: { memory: '4Gi', 'nvidia.com/gpu': '1' } },
          },
        },
      }),
    );
    expect(rev.container.image).toBe('kserve/sklearnserver:v0.13.0');
    expect(rev.container.args).toEqual(['--model_name=iris', '--model_dir=/mnt/models', '--http_port=8080', '--workers=2']);
    expect(rev.container.env).toEqual({ LOG_LEVEL: 'debug' });
    expect(rev.container.resources.limits).toEqual({ cpu: '1', memory: '4Gi', 'nvidia.com/gpu': '1' });
    expect(rev.gpus).toEqual({ 'nvidia.com/gpu': 1 });
    expect(rev.containerConcurrency).toBe(2);
    expect(rev.timeoutSeconds).toBe(30);
  });

  it('fills runtime templates from the InferenceService labels', () => {
    const rev = revisionOf(parse({ predictor: { model: { modelFormat: { name: 'mlflow' } } } }, { name: 'wine', labels: { modelClass: 'mlserver_mlflow.MLflowRuntime' } }));
    expect(rev.runtime.name).toBe('kserve-mlserver');
    expect(rev.container.env.MLSERVER_MODEL_IMPLEMENTATION).toBe('mlserver_mlflow.MLflowRuntime');
  });

  it('attaches the local launch recipe of the runtime', () => {
    const recipe = { command: '{{node}}', args: ['x.js'], env: {}, readinessPath: '/v1/models/{{modelName}}', startupTimeoutSeconds: 5 };
    const cat: RuntimeCatalogue = { ...builtin, localRecipes: new Map([['kserve-sklearnserver', recipe]]) };
    expect(revisionOf(parse({ predictor: sklearn }), cat).local).toEqual(recipe);
  });

  it('builds custom-container predictors and transformers', () => {
    const isvc = parse(
      {
        predictor: {
          minReplicas: 0,
          containers: [
            {
              image: 'me/model:1',
              args: ['--port=8080'],
              env: [{ name: 'PROTOCOL', value: 'v2' }, { name: 'STORAGE_URI', value: 'pvc://models/x' }],
              resources: { limits: { 'nvidia.com/gpu': 2 } },
            },
          ],
        },
        transformer: { containers: [{ image: 'me/transformer:1' }] },
      },
      { name: 'custom' },
    );
    const rev = buildRevision(isvc, 'predictor', builtin, opts);
    expect(rev.runtime).toEqual({ name: 'custom', kind: 'custom', protocolVersion: 'v2' });
    expect(rev.container).toMatchObject({ image: 'me/model:1', command: [], args: ['--port=8080'] });
    expect(rev.storageUri).toBe('pvc://models/x');
    expect(rev.gpus).toEqual({ 'nvidia.com/gpu': 2 });
    expect(rev.local).toBeNull();
    expect(rev.autoscaling.minReplicas).toBe(0);
    const t = buildRevision(isvc, 'transformer', builtin, { generation: 3, createdAt: opts.createdAt });
    expect(t.name).toBe('custom-transformer-00003');
    expect(t.runtime).toEqual({ name: 'custom', kind: 'custom', protocolVersion: 'v1' });
    // KServe's transformer contract, appended by Sluice; the backend fills the predictor host.
    expect(t.container.args).toEqual(['--model_name', 'custom', '--predictor_host', '{{predictorHost}}', '--http_port', '8080']);
    expect(t.predictorPath).toBe('/serving/default/custom-predictor');
    expect(t.local).toBeNull(); // no command: nothing to run locally
  });

  it('keeps a transformer\'s own KServe arguments and runs its command locally on the replica\'s port', () => {
    const isvc = parse(
      {
        predictor: sklearn,
        transformer: { containers: [{ image: 'me/t:1', command: ['/venv/bin/python', '-m', 'tr'], args: ['--model_name=other', '--protocol', 'v2'] }] },
        explainer: { containers: [{ image: 'me/e:1', command: ['node', 'e.js'], env: [{ name: 'PROTOCOL', value: 'v2' }] }] },
      },
      { name: 'iris', namespace: 'ml' },
    );
    const t = buildRevision(isvc, 'transformer', builtin, opts);
    expect(t.container.args).toEqual(['--model_name=other', '--protocol', 'v2', '--predictor_host', '{{predictorHost}}', '--http_port', '8080']);
    expect(t.local).toEqual({
      command: '/venv/bin/python',
      args: ['-m', 'tr', '--model_name=other', '--protocol', 'v2', '--predictor_host', '{{predictorHost}}', '--http_port', '{{port}}'],
      env: {},
      readinessPath: '/v1/models/{{modelName}}',
      startupTimeoutSeconds: 120,
    });
    const e = buildRevision(isvc, 'explainer', builtin, opts);
    expect(e.name).toMatch(/^iris-explainer-/);
    expect(e.predictorPath).toBe('/serving/ml/iris-predictor');
    expect(e.local?.readinessPath).toBe('/v2/health/ready');
  });
});

describe('servingHash', () => {
  const base = parse({ predictor: { ...sklearn, canaryTrafficPercent: 10 } }, { name: 'iris', annotations: { 'autoscaling.knative.dev/target': '5' } });
  const hash = servingHash(base, 'predictor');

  it('is stable under metadata-only changes and canary percent', () => {
    const relabelled = structuredClone(base);
    relabelled.metadata.labels = { team: 'b' };
    relabelled.metadata.annotations = { ...relabelled.metadata.annotations, 'example.com/owner': 'me', 'serving.kserve.io/enable-prometheus-scraping': 'true' };
    relabelled.spec.predictor.canaryTrafficPercent = 50;
    expect(servingHash(relabelled, 'predictor')).toBe(hash);
    const reordered = parse({ predictor: { canaryTrafficPercent: 10, model: { storageUri: 'gs://bucket/iris', modelFormat: { name: 'sklearn' } } } }, { name: 'iris', annotations: { 'autoscaling.knative.dev/target': '5' } });
    expect(servingHash(reordered, 'predictor')).toBe(hash);
  });

  it('changes when the model or autoscaling annotations change', () => {
    const moved = structuredClone(base);
    if (moved.spec.predictor.model) moved.spec.predictor.model.storageUri = 'gs://bucket/iris-v2';
    expect(servingHash(moved, 'predictor')).not.toBe(hash);
    const retargeted = structuredClone(base);
    retargeted.metadata.annotations['autoscaling.knative.dev/target'] = '10';
    expect(servingHash(retargeted, 'predictor')).not.toBe(hash);
    const scaled = structuredClone(base);
    scaled.spec.predictor.minReplicas = 0;
    expect(servingHash(scaled, 'predictor')).not.toBe(hash);
  });
});

describe('replaceImageTag', () => {
  it.each([
    ['kserve/sklearnserver:v0.14.1', 'kserve/sklearnserver:v0.13.0'],
    ['kserve/sklearnserver', 'kserve/sklearnserver:v0.13.0'],
    ['registry.local:5000/kserve/sklearnserver', 'registry.local:5000/kserve/sklearnserver:v0.13.0'],
    ['registry.local:5000/kserve/sklearnserver:latest', 'registry.local:5000/kserve/sklearnserver:v0.13.0'],
    ['kserve/sklearnserver@sha256:abcd', 'kserve/sklearnserver:v0.13.0'],
  ])('%s → %s', (image, expected) => {
    expect(replaceImageTag(image, 'v0.13.0')).toBe(expected);
  });
});

describe('gpus', () => {
  it('rejects a fractional GPU count, naming the field', () => {
    const isvc = parse({ predictor: { model: { ...sklearn.model, resources: { limits: { 'nvidia.com/gpu': '0.5' } } } } });
    expect(() => revisionOf(isvc)).toThrow('spec.predictor.model.resources.limits["nvidia.com/gpu"]: GPU count must be a whole number, got "0.5"');
  });
});
