import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.js';
import { parseInferenceService } from './inferenceservice.js';
import { describeReceived } from './issues.js';

function messages(predictor: Record<string, unknown>): string[] {
  try {
    parseInferenceService({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'iris' }, spec: { predictor } });
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('type errors name what was found once', () => {
  it('says "got null", not "got null null" (an empty YAML value)', () => {
    expect(messages({ model: { modelFormat: { name: 'sklearn' }, storageUri: null } })).toEqual([
      'spec.predictor.model.storageUri: expected a string, got null',
    ]);
  });

  it('names a list or an object once, and shows scalar values after their type', () => {
    expect(messages({ model: { modelFormat: { name: 'sklearn' }, storageUri: ['gs://a'] } })).toEqual([
      'spec.predictor.model.storageUri: expected a string, got a list',
    ]);
    expect(messages({ model: { modelFormat: 'sklearn' } })).toEqual(['spec.predictor.model.modelFormat: expected an object, got a string "sklearn"']);
    expect(describeReceived('object', { a: 1 })).toBe('an object');
    expect(describeReceived('boolean', true)).toBe('a boolean true');
    expect(describeReceived('number', 3)).toBe('a number 3');
  });
});
