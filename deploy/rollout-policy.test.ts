import { describe, expect, it } from 'vitest';
import { rolloutPolicy } from '../api/traffic-spec.js';
import type { WindowStats } from '../gateway/outcome-recorder.js';
import { decideRollout } from './rollout-policy.js';

const policy = rolloutPolicy.parse({ steps: [10, 25, 50], dwellSeconds: 30, maxErrorRateDelta: 0.05, maxP99Ratio: 2, minRequests: 20 });
const ok = (requests: number, p99Ms = 10): WindowStats => ({ requests, errors: 0, p99Ms });
const at = (step: number, elapsedS: number, canary: WindowStats, stable: WindowStats = ok(500)) =>
  decideRollout({ policy, step, stepStartedAt: 0, now: elapsedS * 1000, canary, stable });

describe('decideRollout', () => {
  it('never moves without evidence: too few canary requests hold, however long the dwell', () => {
    expect(at(0, 3600, ok(19))).toEqual({ action: 'hold', reason: 'step 10%: 19/20 canary requests seen; waiting for evidence' });
  });

  it('holds a healthy step for its dwell time, then advances, then promotes after the last step', () => {
    expect(at(0, 10, ok(40))).toMatchObject({ action: 'hold', reason: 'step 10%: healthy, dwelling 20 s more' });
    expect(at(0, 30, ok(40))).toMatchObject({ action: 'advance', toStep: 1 });
    expect(at(2, 30, ok(40))).toMatchObject({ action: 'promote' });
  });

  it('rolls back on an error-rate delta beyond the limit, naming both rates', () => {
    const d = at(0, 5, { requests: 50, errors: 10, p99Ms: 10 }, { requests: 450, errors: 9, p99Ms: 10 });
    expect(d).toEqual({
      action: 'rollback',
      reason: 'canary error rate 20.0% exceeds the stable revision\'s 2.0% by 18.0% (limit 5.0%) over 50 canary and 450 stable requests at step 10%',
    });
    // Within the limit: the same stable error rate is not the canary's fault.
    expect(at(0, 5, { requests: 50, errors: 3, p99Ms: 10 }, { requests: 450, errors: 9, p99Ms: 10 }).action).toBe('hold');
  });

  it('rolls back on a p99 ratio beyond the limit, but only with enough stable samples to compare', () => {
    expect(at(0, 5, ok(50, 90), ok(500, 30))).toMatchObject({ action: 'rollback', reason: expect.stringMatching(/p99 latency 90.0 ms is 3.00× the stable revision's 30.0 ms \(limit 2×\)/) });
    expect(at(0, 5, ok(50, 90), ok(5, 30)).action).toBe('hold');
    // Sub-5 ms noise is not a regression.
    expect(at(0, 5, ok(50, 4), ok(500, 1)).action).toBe('hold');
  });
});
