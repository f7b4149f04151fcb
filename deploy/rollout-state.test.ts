import { describe, expect, it } from 'vitest';
import { rolloutPolicy } from '../api/traffic-spec.js';
import { rolloutCanary, type RolloutCanaryInput } from './rollout-state.js';

const policy = rolloutPolicy.parse({ steps: [10, 50] });
const base: RolloutCanaryInput = {
  prev: null,
  policy,
  specCanary: null,
  explicitSplit: false,
  latestCreated: 'r2',
  latestReady: 'r1',
  latestRolledout: 'r1',
  now: 1000,
};

describe('rolloutCanary', () => {
  it('starts at the first step over the rolled-out revision and starts the clock when the canary is ready', () => {
    const a = rolloutCanary(base);
    expect(a).toMatchObject({ started: true, canary: 10, state: { revision: 'r2', stable: 'r1', step: 0, phase: 'Progressing', canaryReady: false } });
    const b = rolloutCanary({ ...base, prev: a.state, latestReady: 'r2', now: 5000 });
    expect(b).toMatchObject({ started: false, canary: 10, state: { stepStartedAt: 5000, canaryReady: true } });
    const c = rolloutCanary({ ...base, prev: b.state, latestReady: 'r2', now: 9000 });
    expect(c.state!.stepStartedAt).toBe(5000);
  });

  it('steps aside for the spec: canaryTrafficPercent or an explicit split win; nothing to roll out over → no rollout', () => {
    expect(rolloutCanary({ ...base, specCanary: 30 })).toEqual({ state: null, canary: 30, started: false });
    const done = { ...rolloutCanary(base).state!, phase: 'RolledBack' as const };
    expect(rolloutCanary({ ...base, prev: done, specCanary: 0 })).toEqual({ state: done, canary: 0, started: false });
    expect(rolloutCanary({ ...base, explicitSplit: true })).toEqual({ state: null, canary: null, started: false });
    expect(rolloutCanary({ ...base, latestRolledout: null })).toEqual({ state: null, canary: null, started: false });
  });

  it('holds the outcome: succeeded → KServe promote (no canary), rolled back → canary 0', () => {
    const s = rolloutCanary(base).state!;
    expect(rolloutCanary({ ...base, prev: { ...s, phase: 'Succeeded' } }).canary).toBeNull();
    expect(rolloutCanary({ ...base, prev: { ...s, phase: 'RolledBack' } }).canary).toBe(0);
  });
});
