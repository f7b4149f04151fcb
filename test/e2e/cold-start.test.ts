import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };

// Each test has its own service, so any one runs alone and its starting state is its own; the Sluice instance
// is shared (expensive to start).
describe('embedded loop: gateway → activator → autoscaler → local backend', () => {
  let sluice: Embedded;

  beforeAll(async () => {
    const dir = configFolder({
      'iris.yaml': demoService('iris', { annotations: ZERO }),
      'hosted.yaml': demoService('hosted', { annotations: ZERO }),
      'idle.yaml': demoService('idle', { annotations: ZERO }),
      'burst.yaml': demoService('burst', { annotations: ZERO, env: { SLUICE_DEMO_STARTUP_DELAY_MS: '500' } }),
    });
    sluice = await startTestSluice(dir, { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 });
  });

  afterAll(async () => {
    await sluice?.close();
  });

  it('answers a v1 predict from zero replicas, marks the cold start, and v2 infer works', async () => {
    expect(sluice.backend.counts('default/iris-predictor-00001')).toMatchObject({ desired: 0, ready: 0, starting: 0 });
    const res = await fetch(`${sluice.dataUrl}/v1/models/iris:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [1] });
    expect(Number(res.headers.get('x-sluice-cold-start'))).toBeGreaterThan(0);

    const v2 = await fetch(`${sluice.dataUrl}/v2/models/iris/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'input-0', shape: [2, 4], datatype: 'FP32', data: [6.8, 2.8, 4.8, 1.4, 5.1, 3.5, 1.4, 0.2] }] }),
    });
    expect(v2.status).toBe(200);
    const body = (await v2.json()) as { outputs: Array<{ data: number[] }> };
    expect(body.outputs[0]!.data).toEqual([1, 0]);
    expect(v2.headers.get('x-sluice-cold-start')).toBeNull();
  });

  it('routes by host too, and answers 404 with KServe error shape for unknown models', async () => {
    const res = await fetch(`${sluice.dataUrl}/v1/models/hosted:predict`, {
      method: 'POST',
      headers: { host: 'hosted.default.example.com' },
      body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
    });
    expect(await res.json()).toEqual({ predictions: [0] });
    const missing = await fetch(`${sluice.dataUrl}/v1/models/nope:predict`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/no InferenceService matches/);
  });

  it('serves 200 concurrent first requests to a revision at zero, each exactly once', async () => {
    expect(sluice.backend.counts('default/burst-predictor-00001').ready).toBe(0);
    const ids = Array.from({ length: 200 }, (_, i) => `req-${i}`);
    const results = await Promise.all(
      ids.map(async (id) => {
        const r = await fetch(`${sluice.dataUrl}/v2/models/burst/infer`, {
          method: 'POST',
          body: JSON.stringify({ id, inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [6.3, 3.3, 6.0, 2.5] }] }),
        });
        return { status: r.status, body: (await r.json()) as { id: string; outputs: Array<{ data: number[] }> } };
      }),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.map((r) => r.body.id).sort()).toEqual([...ids].sort());
    expect(results.every((r) => r.body.outputs[0]!.data[0] === 2)).toBe(true);
    const metrics = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
    const burst = { namespace: 'default', service: 'burst', revision: 'burst-predictor-00001' };
    expect(metricValue(metrics, 'sluice_requests_total', { ...burst, code: '200' })).toBe(200);
    expect(metricValue(metrics, 'sluice_cold_starts_total', burst)).toBe(200);
  });

  it('returns to zero replicas after the idle grace period, visible in metrics and status', async () => {
    const key = 'default/idle-predictor-00001';
    const woken = await fetch(`${sluice.dataUrl}/v1/models/idle:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });
    expect(woken.status).toBe(200);
    expect(sluice.backend.counts(key).ready).toBe(1);
    await waitUntil('idle to scale to zero', () => sluice.backend.counts(key).desired === 0, 30_000, 200);
    await waitUntil('no idle replica left', () => sluice.backend.counts(key).ready === 0, 10_000, 100);
    await waitUntil(
      'sluice_ready_replicas to read 0',
      async () => {
        const m = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
        return metricValue(m, 'sluice_ready_replicas', { namespace: 'default', service: 'idle', revision: 'idle-predictor-00001' }) === 0;
      },
      5_000,
      100,
    );
    const obj = sluice.controller.get('default', 'idle') as unknown as { status: { revisions: Array<{ readyReplicas: number; desiredReplicas: number }> } };
    expect(obj.status.revisions[0]).toMatchObject({ readyReplicas: 0, desiredReplicas: 0 });
  });
});
