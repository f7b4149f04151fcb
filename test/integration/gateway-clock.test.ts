import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoServer } from '../../examples/demo-runtime/server.js';
import { isvc } from '../support/controller-harness.js';
import { gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitUntil } from '../support/wait.js';

const R1 = 'iris-predictor-00001';
const KEY = `default/${R1}`;

describe('one clock per request: durations come from the injected clock', () => {
  let g: GatewayHarness;
  let demo: DemoServer;

  beforeAll(async () => {
    g = await gatewayHarness();
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
    demo = await g.replica(R1, 'v1', { latencyMs: 1500 });
  });
  afterAll(async () => {
    await g?.close();
  });

  it('a request the fake clock saw take 1,234 ms is recorded as 1,234 ms (duration histogram and rollout outcome), whatever the wall time', async () => {
    const since = g.clock.now();
    const answer = g.predict();
    await waitUntil('the request in the replica', () => demo.stats().requests === 1, 5_000, 5);
    g.clock.advance(1234);
    expect((await answer).status).toBe(200);
    expect(g.outcomes.stats(KEY, since)).toEqual({ requests: 1, errors: 0, p99Ms: 1234 });
    const text = await g.metrics.registry.metrics();
    expect(text).toMatch(/^sluice_request_duration_seconds_sum\{[^}]*revision="iris-predictor-00001"\} 1\.234$/m);
  });
});
