import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.js';
import { parseManifests } from './manifests.js';
import { parseServingRuntime } from './servingruntime.js';

const runtimeYaml = `apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: demo-runtime
spec:
  supportedModelFormats:
    - name: sklearn
      version: "1"
      autoSelect: true
      priority: 5
  protocolVersions: [v1, v2]
  multiModel: false
  builtInAdapter:
    serverType: mlserver
  containers:
    - name: kserve-container
      image: example/demo:1
      args: [--port=8080]
      env:
        - name: A
          value: "1"
      resources:
        requests: { cpu: 1 }
`;

const isvcYaml = `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: iris
spec:
  predictor:
    sklearn:
      storageUri: gs://x
`;

const recipeYaml = `apiVersion: sluice.dev/v1alpha1
kind: LocalLaunchRecipe
metadata:
  name: demo-runtime
spec:
  command: "{{node}}"
  args: [examples/demo-runtime/server.js, --port, "{{port}}"]
  env: { MODEL_NAME: "{{modelName}}" }
  readinessPath: /v2/models/{{modelName}}/ready
  startupTimeoutSeconds: 30
`;

describe('parseManifests', () => {
  it('dispatches each document on kind and skips empty documents', () => {
    const objs = parseManifests(`${runtimeYaml}---\n---\n${isvcYaml}---\n${recipeYaml}`, 'all.yaml');
    expect(objs.map((o) => [o.kind, o.source, o.index])).toEqual([
      ['ServingRuntime', 'all.yaml', 0],
      ['InferenceService', 'all.yaml', 2],
      ['LocalLaunchRecipe', 'all.yaml', 3],
    ]);
    const [rt, isvc, recipe] = objs;
    if (rt?.kind !== 'ServingRuntime' || isvc?.kind !== 'InferenceService' || recipe?.kind !== 'LocalLaunchRecipe') throw new Error('kinds');
    expect(rt.object.metadata.namespace).toBe('default');
    expect(rt.object.spec.supportedModelFormats).toEqual([{ name: 'sklearn', version: '1', autoSelect: true, priority: 5 }]);
    expect(rt.object.spec.containers[0]?.resources.requests).toEqual({ cpu: '1' });
    expect(isvc.object.spec.predictor.model?.modelFormat.name).toBe('sklearn');
    expect(recipe.runtime).toBe('demo-runtime');
    expect(recipe.recipe).toEqual({
      command: '{{node}}',
      args: ['examples/demo-runtime/server.js', '--port', '{{port}}'],
      env: { MODEL_NAME: '{{modelName}}' },
      readinessPath: '/v2/models/{{modelName}}/ready',
      startupTimeoutSeconds: 30,
      stdin: 'pipe',
    });
  });

  it('prefixes errors with the source and the document index', () => {
    const bad = isvcYaml.replace('storageUri: gs://x', 'storageUri: gs://x\n      scaleMetric: qps');
    expect(() => parseManifests(`${runtimeYaml}---\n${bad}`, 'svc.yaml')).toThrow(
      'svc.yaml: document 1: invalid InferenceService "iris":\n  spec.predictor.sklearn.scaleMetric: unknown field',
    );
    try {
      parseManifests(`${runtimeYaml}---\n${bad}`, 'svc.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues[0]?.path).toBe('spec.predictor.sklearn.scaleMetric');
    }
  });

  it('rejects an unsupported kind, naming the supported ones', () => {
    expect(() => parseManifests('apiVersion: v1\nkind: ConfigMap\n', 'cm.yaml')).toThrow(
      'cm.yaml: document 0: unsupported document:\n  kind: "ConfigMap" is not one of InferenceService, ServingRuntime, ClusterServingRuntime, LocalLaunchRecipe',
    );
  });

  it('reports YAML syntax errors with the source', () => {
    expect(() => parseManifests('kind: [unclosed\n', 'broken.yaml')).toThrow(/^broken\.yaml: document 0/);
  });
});

describe('parseServingRuntime', () => {
  const doc = (kind: string, extra: Record<string, unknown> = {}, metadata: Record<string, unknown> = { name: 'rt' }) => ({
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind,
    metadata,
    spec: { containers: [{ name: 'kserve-container', image: 'x/y:1' }], ...extra },
  });

  it('defaults empty lists and flags', () => {
    const rt = parseServingRuntime(doc('ClusterServingRuntime'));
    expect(rt.spec).toMatchObject({ supportedModelFormats: [], protocolVersions: [], multiModel: false, disabled: false, annotations: {} });
    expect(rt.metadata.namespace).toBeUndefined();
  });

  it('reports bad fields with their path', () => {
    expect(() => parseServingRuntime(doc('ServingRuntime', { protocolVersions: ['v3'] }))).toThrow(
      'spec.protocolVersions[0]: "v3" is not one of v1, v2, grpc-v1, grpc-v2',
    );
    expect(() => parseServingRuntime(doc('ServingRuntime', { supportedModelFormats: [{ name: 'a', priority: 1 }] }))).toThrow(
      'spec.supportedModelFormats[0].priority: priority is only allowed together with autoSelect: true (as in KServe)',
    );
    expect(() => parseServingRuntime(doc('ServingRuntime', { containers: [] }))).toThrow('spec.containers: needs at least 1 item(s)');
    expect(() => parseServingRuntime(doc('ClusterServingRuntime', {}, { name: 'rt', namespace: 'x' }))).toThrow(
      'metadata.namespace: a ClusterServingRuntime is cluster-scoped and has no namespace',
    );
    expect(() => parseServingRuntime(doc('Runtime'))).toThrow('kind: "Runtime" is not one of ServingRuntime, ClusterServingRuntime');
  });
});
