/**
 * Done-when of the activator, end to end in embedded mode: from zero, 1,000 concurrent requests with bodies
 * against one replica that takes 2 s to start and serves 4 at a time. Timing is measured by
 * load-tests/cold-start-burst.ts, not asserted here (the machine is shared).
 */
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { inferBody } from '../support/data-plane.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';

describe('cold-start burst (embedded)', () => {
  let sluice: Embedded;
  const agent = new Agent({ connections: 1100 });

  beforeAll(async () => {
    const dir = configFolder({
      'burst.yaml': demoService('burst', {
        annotations: { 'autoscaling.knative.dev/initial-scale': '0' },
        predictor: '    minReplicas: 0\n    maxReplicas: 1\n    containerConcurrency: 4\n',
        env: { SLUICE_DEMO_STARTUP_DELAY_MS: '2000', SLUICE_DEMO_MAX_CONCURRENCY: '4', SLUICE_DEMO_REJECT_OVER_CAPACITY: '1' },
      }),
    });
    sluice = await startTestSluice(dir);
  });

  afterAll(async () => {
    await agent.close();
    await sluice?.close();
  });

  it('1,000 concurrent requests with bodies from zero all succeed, each exactly once, never over capacity', async () => {
    const key = 'default/burst-predictor-00001';
    expect(sluice.backend.counts(key)).toMatchObject({ ready: 0, desired: 0 });
    const n = 1000;
    const answers = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const r = await request(`${sluice.dataUrl}/v2/models/burst/infer`, {
          method: 'POST',
          dispatcher: agent,
          body: inferBody(`b-${i}`, 1024),
          headersTimeout: 120_000,
          bodyTimeout: 120_000,
        });
        return { status: r.statusCode, body: (await r.body.json()) as { id?: string; error?: string }, cold: r.headers['x-sluice-cold-start'] };
      }),
    );
    // REJECT_OVER_CAPACITY=1 on the replica: anything over 4 at once would have come back 503.
    expect(answers.filter((a) => a.status !== 200).map((a) => a.body)).toEqual([]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(n);
    expect(answers.filter((a) => a.cold !== undefined).length).toBe(n);
    const [ep] = sluice.backend.endpoints(key);
    const stats = (await (await fetch(`${ep!.url}/demo/stats`)).json()) as { predictions: number };
    expect(stats.predictions).toBe(n);
    const metrics = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/sluice_cold_start_seconds_count\{namespace="default",service="burst",revision="burst-predictor-00001"\} 1000\n/);
    expect(metrics).toMatch(/sluice_activator_held_requests\{namespace="default",service="burst",revision="burst-predictor-00001"\} 0\n/);
    expect(metrics).toMatch(/sluice_activator_in_path\{namespace="default",service="burst",revision="burst-predictor-00001"\} [01]\n/);
  });
});
