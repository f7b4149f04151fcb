import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isvc } from '../support/controller-harness.js';
import { fire, gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitUntil } from '../support/wait.js';

const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';
const R3 = 'iris-predictor-00003';

const count = (labels: Array<string | null>): Record<string, number> => {
  const c: Record<string, number> = {};
  for (const l of labels) c[String(l)] = (c[String(l)] ?? 0) + 1;
  return c;
};

describe('the split on real sockets (gateway → activator → forwarder → demo servers)', () => {
  let g: GatewayHarness;

  beforeAll(async () => {
    g = await gatewayHarness();
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
    await g.replica(R1, 'v1', { latencyMs: 0 });
    await g.controller.apply(isvc('iris', 'gs://m/v2', '    minReplicas: 1\n    canaryTrafficPercent: 10\n'), 'api');
    await g.replica(R2, 'v2');
  });
  afterAll(async () => {
    await g?.close();
  });

  it('90/10 over 10,000 concurrent requests is within ±1 percentage point (SWRR: exact)', async () => {
    const results = await fire(10_000, 50, () => g.predict());
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const c = count(results.map((r) => r.label));
    expect(Math.abs(c.v2! / 10_000 - 0.1)).toBeLessThanOrEqual(0.01);
    expect(c).toEqual({ v1: 9000, v2: 1000 });
  }, 60_000);

  it('a tag reaches its revision 100 % of the time — even at 0 % and 0 replicas, which it wakes; unknown tags are 404', async () => {
    // v3 exists at 0 % with a tag and no replica yet.
    await g.controller.apply(isvc('iris', 'gs://m/v3', '    minReplicas: 1\n    canaryTrafficPercent: 10\n'), 'api');
    await g.controller.apply(isvc('iris', 'gs://m/v3', '    minReplicas: 1\n    canaryTrafficPercent: 0\n'), 'api');
    await g.controller.updateTraffic('default', 'iris', { op: 'tag', tag: 'candidate', revision: R3 });
    expect(g.backend.counts(`default/${R3}`).ready).toBe(0);
    const held = fire(20, 20, () => g.predict({ 'x-sluice-tag': 'candidate' }));
    await waitUntil('20 requests held for the tagged revision', () => g.activator.held(`default/${R3}`) === 20, 5_000);
    await g.replica(R3, 'v3');
    const first = await held;
    expect(first.map((r) => [r.status, r.label])).toEqual(Array.from({ length: 20 }, () => [200, 'v3']));
    // Header, host and path forms; 300 requests, every one on v3 while the split keeps v3 at 0 %.
    const viaHeader = await fire(100, 20, () => g.predict({ 'x-sluice-tag': 'candidate' }));
    const viaHost = await fire(100, 20, () => g.predict({ host: 'candidate-iris.default.example.com' }));
    const viaPath = await fire(100, 20, () => g.predict({}, '/serving/default/iris/tags/candidate/v1/models/iris:predict'));
    expect(count([...viaHeader, ...viaHost, ...viaPath].map((r) => r.label))).toEqual({ v3: 300 });
    // `prev` is the last rolled-out revision: v1 (v2 was a canary and never promoted).
    const prev = await fire(50, 10, () => g.predict({ host: 'prev-iris-predictor.default.example.com' }));
    expect(count(prev.map((r) => r.label))).toEqual({ v1: 50 });
    const untagged = await fire(100, 20, () => g.predict());
    expect(count(untagged.map((r) => r.label)).v3).toBeUndefined();
    const unknown = await g.predict({ 'x-sluice-tag': 'nope' });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual({ error: 'InferenceService default/iris has no tag "nope"' });
  }, 30_000);

  it('a route change is atomic: requests in flight finish on the revision they started on', async () => {
    await g.controller.updateTraffic('default', 'iris', { op: 'to-revisions', split: { [R2]: 100 } });
    // Slow replicas for v2 only so requests are in flight when the route changes.
    await g.replica(R2, 'v2-slow', { latencyMs: 400 });
    let done = 0;
    const inflight = fire(40, 40, async () => {
      const r = await g.predict();
      done++;
      return r;
    });
    // Every request has been routed (finished, or in the gateway) before the route changes.
    await waitUntil('40 requests routed', () => g.gateway.activeRequests + done === 40 && g.gateway.activeRequests > 0, 5_000);
    await g.controller.updateTraffic('default', 'iris', { op: 'to-revisions', split: { [R1]: 100 } });
    const after = await fire(20, 10, () => g.predict());
    const before = await inflight;
    expect(before.every((r) => r.status === 200 && r.label?.startsWith('v2'))).toBe(true);
    // Some really were in flight across the change (the slow replica answers after it).
    expect(before.some((r) => r.label === 'v2-slow')).toBe(true);
    expect(count(after.map((r) => r.label))).toEqual({ v1: 20 });
  }, 30_000);
});

describe('stickiness by header', () => {
  it('keeps each user on one revision while the population follows the weights', async () => {
    const g = await gatewayHarness();
    try {
      await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n', { 'sluice.dev/sticky-header': 'x-user' }), 'api');
      await g.replica(R1, 'v1');
      await g.controller.apply(isvc('iris', 'gs://m/v2', '    minReplicas: 1\n    canaryTrafficPercent: 20\n', { 'sluice.dev/sticky-header': 'x-user' }), 'api');
      await g.replica(R2, 'v2');
      const users = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
      const firstPass = await fire(users.length, 50, (i) => g.predict({ 'x-user': users[i]! }));
      const secondPass = await fire(users.length, 50, (i) => g.predict({ 'x-user': users[i]! }));
      expect(secondPass.map((r) => r.label)).toEqual(firstPass.map((r) => r.label));
      const share = count(firstPass.map((r) => r.label)).v2! / users.length;
      expect(share).toBeGreaterThan(0.17);
      expect(share).toBeLessThan(0.23);
      // Growing the canary keeps users already on it there.
      await g.controller.apply(isvc('iris', 'gs://m/v2', '    minReplicas: 1\n    canaryTrafficPercent: 50\n', { 'sluice.dev/sticky-header': 'x-user' }), 'api');
      const grown = await fire(users.length, 50, (i) => g.predict({ 'x-user': users[i]! }));
      expect(firstPass.every((r, i) => r.label !== 'v2' || grown[i]!.label === 'v2')).toBe(true);
    } finally {
      await g.close();
    }
  }, 60_000);
});
