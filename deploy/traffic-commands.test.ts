import { describe, expect, it } from 'vitest';
import { HttpError } from '../core/errors.js';
import { applyTrafficCommand } from './traffic-commands.js';

describe('applyTrafficCommand', () => {
  it('refuses a canary when there is one revision (the canary and the rolled-out revision would be the same)', () => {
    let err: unknown;
    try {
      applyTrafficCommand({}, { op: 'canary', percent: 10 }, ['iris-predictor-00001']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(409);
    expect((err as Error).message).toMatch(/^a canary needs a second revision to split with, and there is only iris-predictor-00001; change the predictor/);
  });

  it('sets the canary percent once there are two revisions', () => {
    expect(applyTrafficCommand({}, { op: 'canary', percent: 10 }, ['iris-predictor-00001', 'iris-predictor-00002'])).toEqual({ canaryTrafficPercent: 10 });
  });
});
