import { describe, expect, it } from 'vitest';
import type { ModelSpec } from '../api/inferenceservice.js';
import { parseServingRuntime, type ServingRuntime } from '../api/servingruntime.js';
import { ValidationError } from '../core/errors.js';
import { builtinCatalogueDir, loadCatalogue, type RuntimeCatalogue } from './runtime-catalogue.js';
import { resolveRuntime, supportingRuntimes } from './runtime-selection.js';

const builtin = loadCatalogue([builtinCatalogueDir()]);
type Ref = Pick<ModelSpec, 'modelFormat' | 'runtime' | 'protocolVersion'>;

function pick(model: Ref, catalogue: RuntimeCatalogue = builtin, ns = 'default'): string {
  const r = resolveRuntime(model, ns, catalogue);
  return `${r.kind}/${r.runtime.metadata.name} ${r.protocolVersion}`;
}

function failure(model: Ref, catalogue: RuntimeCatalogue = builtin): { path: string; message: string } {
  try {
    resolveRuntime(model, 'default', catalogue);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    const [issue] = (err as ValidationError).issues;
    if (issue === undefined) throw new Error('no issue');
    return issue;
  }
  throw new Error('expected resolution to fail');
}

function runtime(kind: 'ServingRuntime' | 'ClusterServingRuntime', name: string, spec: Record<string, unknown>): ServingRuntime {
  return parseServingRuntime({
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind,
    metadata: { name, ...(kind === 'ServingRuntime' ? { namespace: 'default' } : {}) },
    spec: { containers: [{ name: 'kserve-container', image: `example/${name}:1` }], ...spec },
  });
}

function withRuntimes(...extra: ServingRuntime[]): RuntimeCatalogue {
  return {
    clusterRuntimes: [...builtin.clusterRuntimes, ...extra.filter((r) => r.kind === 'ClusterServingRuntime')],
    runtimes: extra.filter((r) => r.kind === 'ServingRuntime'),
    localRecipes: new Map(),
  };
}

describe('resolveRuntime: auto-selection over the built-in catalogue', () => {
  it('matches KServe for each framework', () => {
    expect(pick({ modelFormat: { name: 'sklearn' } })).toBe('ClusterServingRuntime/kserve-sklearnserver v1');
    expect(pick({ modelFormat: { name: 'sklearn' }, protocolVersion: 'v2' })).toBe('ClusterServingRuntime/kserve-mlserver v2');
    expect(pick({ modelFormat: { name: 'sklearn', version: '1' }, protocolVersion: 'v1' })).toBe('ClusterServingRuntime/kserve-sklearnserver v1');
    expect(pick({ modelFormat: { name: 'xgboost' } })).toBe('ClusterServingRuntime/kserve-xgbserver v1');
    expect(pick({ modelFormat: { name: 'xgboost' }, protocolVersion: 'v2' })).toBe('ClusterServingRuntime/kserve-mlserver v2');
    expect(pick({ modelFormat: { name: 'lightgbm' } })).toBe('ClusterServingRuntime/kserve-lgbserver v1');
    expect(pick({ modelFormat: { name: 'pmml' } })).toBe('ClusterServingRuntime/kserve-pmmlserver v1');
    expect(pick({ modelFormat: { name: 'tensorflow' } })).toBe('ClusterServingRuntime/kserve-tensorflow-serving v1');
    expect(pick({ modelFormat: { name: 'tensorflow' }, protocolVersion: 'v2' })).toBe('ClusterServingRuntime/kserve-tritonserver v2');
    expect(pick({ modelFormat: { name: 'pytorch' } })).toBe('ClusterServingRuntime/kserve-torchserve v1');
    expect(pick({ modelFormat: { name: 'pytorch' }, protocolVersion: 'v2' })).toBe('ClusterServingRuntime/kserve-torchserve v2');
    expect(pick({ modelFormat: { name: 'triton' } })).toBe('ClusterServingRuntime/kserve-tritonserver v2');
    expect(pick({ modelFormat: { name: 'onnx' }, protocolVersion: 'v2' })).toBe('ClusterServingRuntime/kserve-tritonserver v2');
    expect(pick({ modelFormat: { name: 'huggingface' } })).toBe('ClusterServingRuntime/kserve-huggingfaceserver v1');
    expect(pick({ modelFormat: { name: 'mlflow' }, protocolVersion: 'v2' })).toBe('ClusterServingRuntime/kserve-mlserver v2');
  });

  it('names the formats that would work for an unknown format', () => {
    const issue = failure({ modelFormat: { name: 'caffe' } });
    expect(issue.path).toBe('spec.predictor.model.modelFormat.name');
    expect(issue.message).toBe(
      'no runtime auto-selects model format "caffe" (formats that would work: huggingface, lightgbm, mlflow, onnx, pmml, pytorch, sklearn, tensorflow, tensorrt, triton, xgboost; or name a runtime)',
    );
  });

  it('names the versions that would work for an unknown version', () => {
    const issue = failure({ modelFormat: { name: 'sklearn', version: '9' } });
    expect(issue.path).toBe('spec.predictor.model.modelFormat.version');
    expect(issue.message).toBe('no runtime auto-selects sklearn version "9" (versions that would work: 0 (kserve-mlserver), 1 (kserve-mlserver), 1 (kserve-sklearnserver))');
  });

  it('names the runtimes and their protocols when none speaks the protocol', () => {
    const issue = failure({ modelFormat: { name: 'sklearn' }, protocolVersion: 'grpc-v1' });
    expect(issue.path).toBe('spec.predictor.model.protocolVersion');
    expect(issue.message).toBe(
      'no runtime for model format sklearn supports protocol grpc-v1 (runtimes for it: kserve-mlserver (v2), kserve-sklearnserver (v1, v2))',
    );
  });

  it('skips disabled and multi-model runtimes', () => {
    const disabled = runtime('ServingRuntime', 'my-sklearn', {
      supportedModelFormats: [{ name: 'sklearn', autoSelect: true, priority: 10 }],
      disabled: true,
    });
    const multi = runtime('ServingRuntime', 'mm-sklearn', {
      supportedModelFormats: [{ name: 'sklearn', autoSelect: true, priority: 10 }],
      multiModel: true,
    });
    expect(pick({ modelFormat: { name: 'sklearn' } }, withRuntimes(disabled, multi))).toBe('ClusterServingRuntime/kserve-sklearnserver v1');
  });

  it('prefers a namespaced runtime over any cluster runtime, even with lower priority', () => {
    const ns = runtime('ServingRuntime', 'team-sklearn', { supportedModelFormats: [{ name: 'sklearn', autoSelect: true }] });
    expect(pick({ modelFormat: { name: 'sklearn' } }, withRuntimes(ns))).toBe('ServingRuntime/team-sklearn v1');
    expect(pick({ modelFormat: { name: 'sklearn' } }, withRuntimes(ns), 'other')).toBe('ClusterServingRuntime/kserve-sklearnserver v1');
  });

  it('orders by priority: higher first, a priority before none', () => {
    const low = runtime('ClusterServingRuntime', 'a-none', { supportedModelFormats: [{ name: 'onnx', autoSelect: true }], protocolVersions: ['v1'] });
    const high = runtime('ClusterServingRuntime', 'z-high', { supportedModelFormats: [{ name: 'onnx', autoSelect: true, priority: 5 }], protocolVersions: ['v1'] });
    const cat = withRuntimes(low, high);
    expect(supportingRuntimes({ modelFormat: { name: 'onnx' } }, 'v1', 'default', cat).map((r) => r.runtime.metadata.name)).toEqual(['z-high', 'a-none']);
    expect(pick({ modelFormat: { name: 'onnx' } }, cat)).toBe('ClusterServingRuntime/z-high v1');
  });

  it('breaks a priority tie by the lowest protocol spoken, then by name', () => {
    const v2only = runtime('ClusterServingRuntime', 'a-v2', { supportedModelFormats: [{ name: 'x', autoSelect: true, priority: 1 }], protocolVersions: ['v2'] });
    const v1too = runtime('ClusterServingRuntime', 'b-v1', { supportedModelFormats: [{ name: 'x', autoSelect: true, priority: 1 }], protocolVersions: ['v2', 'v1'] });
    const v1also = runtime('ClusterServingRuntime', 'c-v1', { supportedModelFormats: [{ name: 'x', autoSelect: true, priority: 1 }], protocolVersions: ['v1', 'v2'] });
    const cat = withRuntimes(v2only, v1also, v1too);
    expect(supportingRuntimes({ modelFormat: { name: 'x' } }, 'v2', 'default', cat).map((r) => r.runtime.metadata.name)).toEqual(['b-v1', 'c-v1', 'a-v2']);
  });

  it('ignores formats without autoSelect unless the runtime is named', () => {
    expect(failure({ modelFormat: { name: 'pytorch' }, protocolVersion: 'grpc-v1' }).message).toBe(
      'no runtime for model format pytorch supports protocol grpc-v1 (runtimes for it: kserve-torchserve (v1, v2, grpc-v2))',
    );
    expect(pick({ modelFormat: { name: 'pytorch' }, runtime: 'kserve-tritonserver' })).toBe('ClusterServingRuntime/kserve-tritonserver v2');
  });
});

describe('resolveRuntime: a named runtime', () => {
  it('uses the named runtime and its protocol', () => {
    expect(pick({ modelFormat: { name: 'sklearn' }, runtime: 'kserve-mlserver' })).toBe('ClusterServingRuntime/kserve-mlserver v2');
    expect(pick({ modelFormat: { name: 'sklearn' }, runtime: 'kserve-sklearnserver', protocolVersion: 'v2' })).toBe('ClusterServingRuntime/kserve-sklearnserver v2');
  });

  it('prefers a namespaced ServingRuntime of the same name', () => {
    const ns = runtime('ServingRuntime', 'kserve-sklearnserver', { supportedModelFormats: [{ name: 'sklearn' }] });
    expect(pick({ modelFormat: { name: 'sklearn' }, runtime: 'kserve-sklearnserver' }, withRuntimes(ns))).toBe('ServingRuntime/kserve-sklearnserver v1');
  });

  it('says why a named runtime cannot serve', () => {
    expect(failure({ modelFormat: { name: 'sklearn' }, runtime: 'nope' })).toEqual({
      path: 'spec.predictor.model.runtime',
      message: expect.stringMatching(/^no ServingRuntime in namespace default or ClusterServingRuntime named "nope" \(known: kserve-huggingfaceserver, .*\)$/),
    });
    expect(failure({ modelFormat: { name: 'sklearn' }, runtime: 'kserve-tritonserver' })).toEqual({
      path: 'spec.predictor.model.runtime',
      message: 'ClusterServingRuntime "kserve-tritonserver" does not support model format sklearn (it supports: tensorrt:8, tensorflow:1, tensorflow:2, onnx:1, pytorch:1, triton:2)',
    });
    expect(failure({ modelFormat: { name: 'sklearn' }, runtime: 'kserve-mlserver', protocolVersion: 'v1' })).toEqual({
      path: 'spec.predictor.model.protocolVersion',
      message: 'ClusterServingRuntime "kserve-mlserver" does not support protocol v1 (it supports: v2)',
    });
    const off = runtime('ClusterServingRuntime', 'off', { supportedModelFormats: [{ name: 'sklearn' }], disabled: true });
    expect(failure({ modelFormat: { name: 'sklearn' }, runtime: 'off' }, withRuntimes(off)).message).toBe('ClusterServingRuntime "off" is disabled');
  });
});
