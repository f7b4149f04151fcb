/**
 * Two gateways (two embedded Sluice instances) sharing their rate limits through a real Redis started by the test;
 * a revision at zero that stays at zero under a flood of rate-limited requests on both; local buckets (logged,
 * counted) once Redis is gone.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { RedisStore } from '../../core/redis-store.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { startRedis } from '../support/redis-server.js';
import { waitUntil } from '../support/wait.js';

const INPUT = JSON.stringify({ inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'FP32', data: [6.8, 2.8, 4.8, 1.4] }] });

async function infer(s: Embedded, model: string): Promise<{ status: number; error?: string; retryAfter: string | null }> {
  const r = await fetch(`${s.dataUrl}/v2/models/${model}/infer`, { method: 'POST', body: INPUT, headers: { 'content-type': 'application/json' } });
  const body = (await r.json()) as { error?: string };
  return { status: r.status, error: body.error, retryAfter: r.headers.get('retry-after') };
}

describe('rate limits shared by two gateways through Redis', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const stores: RedisStore[] = [];
  let a: Embedded;
  let b: Embedded;

  beforeAll(async () => {
    redis = await startRedis();
    const dir = configFolder({
      'shared.yaml': demoService('shared', { predictor: '    minReplicas: 1\n', annotations: { 'sluice.dev/rate-limit': '0.001', 'sluice.dev/rate-limit-burst': '6' } }),
      'cold.yaml': demoService('cold', { annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'sluice.dev/rate-limit': '0.001', 'sluice.dev/rate-limit-burst': '1' } }),
    });
    for (let i = 0; i < 2; i++) stores.push(new RedisStore({ url: redis.url, prefix: 'ingress-test' }));
    [a, b] = await Promise.all(stores.map((store) => startTestSluice(dir, {}, undefined, { rateLimitStore: store })));
    await waitUntil('both gateways to have a ready replica', () => [a, b].every((s) => s.backend.counts('default/shared-predictor-00001').ready >= 1), 30_000);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all(stores.map((s) => s.close()));
    await redis?.stop();
  });

  it('one bucket for both: a burst of 6 admits 6 requests in all, alternating gateways, then 429 naming the limit', async () => {
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await infer(i % 2 === 0 ? a : b, 'shared'));
    expect(answers.map((x) => x.status)).toEqual([200, 200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
    expect(answers[6]!.error).toBe('rate limit exceeded for InferenceService default/shared: 0.001 requests/s, burst 6 (sluice.dev/rate-limit)');
    expect(Number(answers[6]!.retryAfter)).toBeGreaterThan(900);
  });

  it('a revision at zero stays at zero under a flood of rate-limited requests on both gateways', async () => {
    // The bucket is already empty in Redis (as another gateway would have left it): every request is over the limit.
    const client = new Redis(redis.url);
    const [sec] = await client.time();
    await client.hset('ingress-test:rl:s:default/cold', 't', '0', 'ts', String(Number(sec) * 1000));
    await client.quit();
    const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => infer(i % 2 === 0 ? a : b, 'cold')));
    expect(answers.filter((x) => x.status !== 429)).toEqual([]);
    for (const s of [a, b]) expect(s.backend.counts('default/cold-predictor-00001')).toMatchObject({ desired: 0, ready: 0 });
  }, 30_000);

  it('with Redis gone, each gateway limits with its own buckets, and says so in a metric', async () => {
    await redis.stop();
    await waitUntil('the store to see Redis gone', async () => (await infer(a, 'shared')).status === 200 || undefined, 10_000);
    const more = [];
    for (let i = 0; i < 8; i++) more.push((await infer(a, 'shared')).status);
    // A fresh local bucket of 6 (one taken above): 5 more, then 429.
    expect(more).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const text = await (await fetch(`${a.metricsUrl}/metrics`)).text();
    expect(metricValue(text, 'sluice_gateway_rate_limit_fallbacks_total')).toBeGreaterThanOrEqual(9);
  }, 30_000);
});
