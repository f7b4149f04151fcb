import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { builtinCatalogueDir, loadCatalogue } from './runtime-catalogue.js';
import { defaultInferenceService } from './defaulting.js';
import { parseManifests } from '../api/manifests.js';

const catalogue = loadCatalogue([builtinCatalogueDir()]);
const examples = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'kserve-examples');

function defaulted(file: string): { runtime?: string; protocolVersion?: string } {
  const [doc] = parseManifests(readFileSync(join(examples, file), 'utf8'), file);
  if (doc?.kind !== 'InferenceService') throw new Error(`${file} is not an InferenceService`);
  const model = defaultInferenceService(doc.object, catalogue).spec.predictor.model;
  return { runtime: model?.runtime, protocolVersion: model?.protocolVersion };
}

describe('defaultInferenceService on KServe examples', () => {
  it.each([
    ['sklearn-iris.yaml', 'kserve-sklearnserver', 'v1'],
    ['sklearn-iris-v2.yaml', 'kserve-mlserver', 'v2'],
    ['sklearn-legacy.yaml', 'kserve-sklearnserver', 'v1'],
    ['xgboost-iris.yaml', 'kserve-xgbserver', 'v1'],
    ['lightgbm-iris.yaml', 'kserve-lgbserver', 'v1'],
    ['pmml-iris.yaml', 'kserve-pmmlserver', 'v1'],
    ['tensorflow-flowers.yaml', 'kserve-tensorflow-serving', 'v1'],
    ['torchserve-mnist.yaml', 'kserve-torchserve', 'v1'],
    ['torchserve-transformer.yaml', 'kserve-torchserve', 'v1'],
    ['triton-torchscript.yaml', 'kserve-tritonserver', 'v2'],
    ['triton-model.yaml', 'kserve-tritonserver', 'v2'],
    ['onnx-style.yaml', 'kserve-tritonserver', 'v2'],
    ['onnx-model.yaml', 'kserve-tritonserver', 'v2'],
    ['huggingface-bert.yaml', 'kserve-huggingfaceserver', 'v1'],
    ['mlflow-wine.yaml', 'kserve-mlserver', 'v2'],
  ])('%s → %s %s', (file, runtime, protocolVersion) => {
    expect(defaulted(file)).toEqual({ runtime, protocolVersion });
  });

  it('covers every example file', () => {
    expect(readdirSync(examples).filter((f) => f.endsWith('.yaml'))).toHaveLength(16);
  });

  it('leaves a custom-container predictor alone and does not mutate its input', () => {
    const [doc] = parseManifests(readFileSync(join(examples, 'custom-container.yaml'), 'utf8'), 'custom');
    if (doc?.kind !== 'InferenceService') throw new Error('not an InferenceService');
    const before = structuredClone(doc.object);
    const out = defaultInferenceService(doc.object, catalogue);
    expect(out.spec.predictor.model).toBeUndefined();
    expect(out).toEqual(before);
    expect(doc.object).toEqual(before);
    const [sk] = parseManifests(readFileSync(join(examples, 'sklearn-iris.yaml'), 'utf8'), 'sk');
    if (sk?.kind !== 'InferenceService') throw new Error('not an InferenceService');
    defaultInferenceService(sk.object, catalogue);
    expect(sk.object.spec.predictor.model?.runtime).toBeUndefined();
  });
});
