import { describe, expect, it } from 'vitest';
import { expectClose } from './harness.js';

describe('expectClose (the runtime suites’ numeric comparison)', () => {
  it('fails when the expectation itself is missing, even if the answer is missing too', () => {
    expect(() => expectClose(undefined, undefined)).toThrow(/no expected value/);
    expect(() => expectClose({ a: undefined }, { a: undefined })).toThrow(/\$\.a: no expected value/);
  });

  it('fails when the answer is missing a value the expectation has', () => {
    expect(() => expectClose(undefined, [0.5])).toThrow();
    expect(() => expectClose({}, { p: 0.5 })).toThrow();
  });

  it('accepts numbers within the tolerance and refuses numbers outside it', () => {
    expect(() => expectClose([0.1 + 1e-8, 2], [0.1, 2])).not.toThrow();
    expect(() => expectClose([0.1001], [0.1])).toThrow();
  });
});
