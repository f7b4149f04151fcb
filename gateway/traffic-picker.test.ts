import { describe, expect, it } from 'vitest';
import type { Route, TrafficTarget } from '../api/route.js';
import { pickByHash, stickyKey, TrafficPicker } from './traffic-picker.js';

const target = (revisionName: string, percent: number, tag: string | null = null): TrafficTarget => ({
  revisionKey: `default/${revisionName}`,
  revisionName,
  percent,
  tag,
  latestRevision: false,
});
const route = (targets: TrafficTarget[], sticky?: Route['sticky']): Route => ({
  namespace: 'default',
  service: 'iris',
  modelName: 'iris',
  hosts: [],
  targets: Object.freeze(targets),
  ...(sticky ? { sticky } : {}),
});

describe('TrafficPicker', () => {
  it('is exact over every window of 100 picks (here 7/93, at any offset)', () => {
    const picker = new TrafficPicker();
    const r = route([target('a', 7), target('b', 93)]);
    const picks = Array.from({ length: 1000 }, () => picker.pick(r, null)!.revisionName);
    for (let start = 0; start <= 900; start += 100) expect(picks.slice(start, start + 100).filter((p) => p === 'a').length).toBe(7);
  });

  it('gives a tag its revision even at 0 %, never picks 0 % by weight, and answers null for an unknown tag', () => {
    const picker = new TrafficPicker();
    const r = route([target('a', 100), target('b', 0, 'candidate')]);
    expect(picker.pick(r, 'candidate')!.revisionName).toBe('b');
    expect(Array.from({ length: 50 }, () => picker.pick(r, null)!.revisionName)).toEqual(Array(50).fill('a'));
    expect(picker.pick(r, 'nope')).toBeNull();
  });

  it('sticks by header or cookie, following the cumulative weights', () => {
    const picker = new TrafficPicker();
    const r = route([target('canary', 10), target('stable', 90)], { header: 'x-user', cookie: 'sid' });
    const a = picker.pick(r, null, { 'x-user': 'alice' })!.revisionName;
    for (let i = 0; i < 20; i++) expect(picker.pick(r, null, { 'x-user': 'alice' })!.revisionName).toBe(a);
    expect(stickyKey({ cookie: 'sid' }, { cookie: 'theme=dark; sid=abc123' })).toBe('abc123');
    expect(stickyKey({ header: 'x-user' }, {})).toBeNull();
    // The population follows the weights; growing the first target never moves its users away.
    const users = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const at10 = users.map((u) => pickByHash([target('canary', 10), target('stable', 90)], u)!.revisionName);
    const at30 = users.map((u) => pickByHash([target('canary', 30), target('stable', 70)], u)!.revisionName);
    // The hash is deterministic: these are the exact counts, each within 1 percentage point of its weight.
    const canaries10 = at10.filter((x) => x === 'canary').length;
    const canaries30 = at30.filter((x) => x === 'canary').length;
    expect([canaries10, canaries30]).toEqual([1035, 2976]);
    expect(Math.abs(canaries10 - 1_000)).toBeLessThanOrEqual(100);
    expect(Math.abs(canaries30 - 3_000)).toBeLessThanOrEqual(100);
    expect(at10.every((x, i) => x !== 'canary' || at30[i] === 'canary')).toBe(true);
  });
});
