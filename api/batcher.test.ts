import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.js';
import { defaultInferenceService } from '../deploy/defaulting.js';
import { buildRevision, servingHash } from '../deploy/revision-builder.js';
import { builtinCatalogueDir, loadCatalogue } from '../deploy/runtime-catalogue.js';
import { BATCHER_DEFAULTS } from './batcher.js';
import { parseInferenceService } from './inferenceservice.js';

const catalogue = loadCatalogue([builtinCatalogueDir()]);
const sklearn = { model: { modelFormat: { name: 'sklearn' }, storageUri: 'gs://bucket/iris' } };
const doc = (predictor: Record<string, unknown>): unknown => ({
  apiVersion: 'serving.kserve.io/v1beta1',
  kind: 'InferenceService',
  metadata: { name: 'iris' },
  spec: { predictor: { ...sklearn, ...predictor } },
});
const revisionOf = (predictor: Record<string, unknown>) =>
  buildRevision(defaultInferenceService(parseInferenceService(doc(predictor)).object, catalogue), 'predictor', catalogue, {
    generation: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
  });

describe('spec.predictor.batcher', () => {
  it('is carried by the revision with KServe agent defaults (32 rows, 5000 ms, 60 s)', () => {
    expect(revisionOf({}).batcher).toBeNull();
    expect(revisionOf({ batcher: {} }).batcher).toEqual({ maxBatchSize: 32, maxLatencyMs: 5000, timeoutSeconds: 60 });
    expect(BATCHER_DEFAULTS.maxLatencyMs).toBe(5000);
    expect(revisionOf({ batcher: { maxBatchSize: 8, maxLatency: 20, timeout: 5 } }).batcher).toEqual({ maxBatchSize: 8, maxLatencyMs: 20, timeoutSeconds: 5 });
  });

  it('a change of the batcher makes a new revision (the serving hash changes)', () => {
    const hash = (predictor: Record<string, unknown>): string => servingHash(parseInferenceService(doc(predictor)).object, 'predictor');
    expect(hash({ batcher: { maxBatchSize: 8 } })).not.toBe(hash({ batcher: { maxBatchSize: 16 } }));
    expect(hash({ batcher: { maxBatchSize: 8 } })).not.toBe(hash({}));
  });

  it('bad values are refused with the field path', () => {
    const issues = (predictor: Record<string, unknown>): string[] => {
      try {
        parseInferenceService(doc(predictor));
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
        return (err as ValidationError).issues.map((i) => i.path);
      }
      throw new Error('expected a ValidationError');
    };
    expect(issues({ batcher: { maxBatchSize: 0 } })).toEqual(['spec.predictor.batcher.maxBatchSize']);
    expect(issues({ batcher: { maxBatchSize: 5000 } })).toEqual(['spec.predictor.batcher.maxBatchSize']);
    expect(issues({ batcher: { maxLatency: 1.5 } })).toEqual(['spec.predictor.batcher.maxLatency']);
    expect(issues({ batcher: { timeout: -1 } })).toEqual(['spec.predictor.batcher.timeout']);
    expect(issues({ batcher: { maxBatchsize: 8 } })).toEqual(['spec.predictor.batcher.maxBatchsize']);
  });
});
