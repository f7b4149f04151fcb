import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.js';
import { parseInferenceService } from './inferenceservice.js';

const sklearn = { model: { modelFormat: { name: 'sklearn' }, storageUri: 'gs://bucket/model' } };
const doc = (predictor: Record<string, unknown>): unknown => ({
  apiVersion: 'serving.kserve.io/v1beta1',
  kind: 'InferenceService',
  metadata: { name: 'iris' },
  spec: { predictor: { ...sklearn, ...predictor } },
});

function messages(d: unknown): string[] {
  try {
    parseInferenceService(d);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a ValidationError');
}

describe('spec.predictor.traffic (Sluice extension)', () => {
  it('accepts an explicit split with tags, and tag-only entries beside a canary', () => {
    const split = [
      { revisionName: 'iris-predictor-00001', percent: 90, tag: 'stable' },
      { latestRevision: true, percent: 10 },
    ];
    expect(parseInferenceService(doc({ traffic: split })).object.spec.predictor).toMatchObject({ traffic: split });
    expect(() => parseInferenceService(doc({ canaryTrafficPercent: 10, traffic: [{ revisionName: 'iris-predictor-00001', percent: 0, tag: 'old' }] }))).not.toThrow();
  });

  it('refuses splits that do not sum to 100, ambiguous targets, reserved or repeated tags, with field paths', () => {
    expect(messages(doc({ traffic: [{ revisionName: 'a', percent: 90 }, { revisionName: 'b', percent: 20 }] }))).toEqual([
      'spec.predictor.traffic: percents must sum to 100 (or all be 0 for tag-only entries), got 110',
    ]);
    expect(messages(doc({ traffic: [{ revisionName: 'a', latestRevision: true, percent: 100 }] }))).toEqual([
      'spec.predictor.traffic[0]: set exactly one of revisionName or latestRevision: true',
    ]);
    expect(messages(doc({ traffic: [{ revisionName: 'a', percent: 100, tag: 'prev' }, { revisionName: 'b', percent: 0, tag: 'x' }, { revisionName: 'c', percent: 0, tag: 'x' }] }))).toEqual([
      `spec.predictor.traffic[0].tag: tag "prev" is reserved for KServe's canary rollout; choose another name`,
      'spec.predictor.traffic[2].tag: tag "x" is used twice',
    ]);
    expect(messages(doc({ canaryTrafficPercent: 10, traffic: [{ revisionName: 'a', percent: 100 }] }))).toEqual([
      'spec.predictor.traffic: an explicit split cannot be combined with canaryTrafficPercent; remove one of them',
    ]);
  });

  it('validates the rollout policy', () => {
    expect(messages(doc({ rollout: { steps: [10, 5] } }))).toEqual(['spec.predictor.rollout.steps: steps must be strictly increasing']);
    expect(parseInferenceService(doc({ rollout: { steps: [10, 50] } })).object.spec.predictor).toMatchObject({
      rollout: { steps: [10, 50], dwellSeconds: 60, maxErrorRateDelta: 0.05, maxP99Ratio: 1.5, minRequests: 50 },
    });
  });
});
