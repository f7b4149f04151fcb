/**
 * Model readiness and metadata probes at zero, on real sockets (gateway → activator → forwarder → in-process demo
 * servers, controller with a FakeBackend): answered by the gateway without waking the revision, except metadata
 * it has never seen. See docs/probes.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isvc } from '../support/controller-harness.js';
import { fire, gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

const KEY = 'default/iris-predictor-00001';
const ZERO = { 'autoscaling.knative.dev/initial-scale': '0' };
const LABELS = { namespace: 'default', service: 'iris', revision: 'iris-predictor-00001' };

interface Answer {
  status: number;
  by: string | null;
  body: string;
}

describe('model probes at zero do not wake the revision', () => {
  let g: GatewayHarness;

  const get = async (path: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Answer> => {
    const r = await g.pool.request({ path, method });
    const by = r.headers['x-sluice-answered-by'];
    return { status: r.statusCode, by: typeof by === 'string' ? by : null, body: await r.body.text() };
  };
  /** Requests the revision's series counted (probes answered at the gateway are not among them). */
  const counted = async (): Promise<number> => {
    const text = await g.metrics.registry.metrics();
    return [200, 503, 504].reduce((n, code) => n + (metricValue(text, 'sluice_requests_total', { ...LABELS, code: String(code) }) ?? 0), 0);
  };
  const atRest = (): void => {
    expect(g.activator.held(KEY)).toBe(0);
    expect(g.backend.counts(KEY)).toMatchObject({ desired: 0, ready: 0 });
  };

  beforeAll(async () => {
    g = await gatewayHarness();
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 0\n', ZERO), 'api');
  });
  afterAll(async () => {
    await g?.close();
  });

  it('a revision that has never run is not ready, and readiness probes leave it asleep', async () => {
    const answers = await fire(20, 5, (i) => get(i % 2 === 0 ? '/v2/models/iris/ready' : '/v1/models/iris'));
    for (const a of answers) {
      expect(a.status).toBe(503);
      expect(a.by).toBe('gateway');
      expect(JSON.parse(a.body)).toEqual({
        error: 'model iris is not ready: revision iris-predictor-00001 has not been ready yet (it starts on the first inference request)',
      });
    }
    expect((await get('/v2/models/iris/versions/1/ready', 'HEAD')).status).toBe(503);
    atRest();
    expect(await counted()).toBe(0);
  });

  it('metadata never seen wakes it; once warm, probes reach the replica', async () => {
    const first = get('/v2/models/iris');
    await waitUntil('the metadata probe is held for a replica', () => g.activator.held(KEY) === 1, 5_000);
    await g.replica('iris-predictor-00001', 'v1');
    const meta = await first;
    expect(meta.status).toBe(200);
    expect(meta.by).toBeNull();
    expect(JSON.parse(meta.body)).toMatchObject({ name: 'iris', platform: 'sluice-demo' });
    const ready = await get('/v2/models/iris/ready');
    expect(ready).toMatchObject({ status: 200, by: null });
    expect(await counted()).toBe(2);
  });

  it('at zero again: readiness from the revision (proven ready), metadata from what the replica said, nothing woken', async () => {
    const warm = await get('/v2/models/iris');
    for (const ep of g.backend.endpoints(KEY)) g.backend.markRemoved(ep);
    expect(g.activator.activeReplicas(KEY)).toBe(0);
    const before = await counted();
    const answers = await fire(30, 5, (i) => get(['/v2/models/iris/ready', '/v1/models/iris', '/v2/models/iris?x=1'][i % 3]!));
    expect(answers.map((a) => [a.status, a.by])).toEqual(Array.from({ length: 30 }, () => [200, 'gateway']));
    expect(JSON.parse(answers[0]!.body)).toEqual({ name: 'iris', ready: true });
    expect(JSON.parse(answers[1]!.body)).toEqual({ name: 'iris', ready: true });
    expect(answers[2]!.body).toBe(warm.body);
    // The same through the service's host and its /serving/ path.
    const viaHost = await g.pool.request({ path: '/v2/models/iris/ready', method: 'GET', headers: { host: 'iris.default.example.com' } });
    expect(viaHost.statusCode).toBe(200);
    expect(viaHost.headers['x-sluice-answered-by']).toBe('gateway');
    await viaHost.body.dump();
    expect(await get('/serving/default/iris/v2/models/iris')).toMatchObject({ status: 200, by: 'gateway', body: warm.body });
    expect((await get('/v2/models/iris', 'HEAD')).status).toBe(200);
    atRest();
    expect(await counted()).toBe(before);
  });

  it('inference at zero still wakes the revision (the hot path is unchanged)', async () => {
    const predict = g.predict();
    await waitUntil('the predict is held for a replica', () => g.activator.held(KEY) === 1, 5_000);
    await g.replica('iris-predictor-00001', 'v1b');
    expect(await predict).toMatchObject({ status: 200, label: 'v1b' });
  });

  it('a failed revision is not ready, with the reason', async () => {
    await g.controller.apply(isvc('broken', 'gs://m/b', '    minReplicas: 0\n'), 'api');
    const key = 'default/broken-predictor-00001';
    for (let i = 0; i < 10 && g.snapshot.current.revisions.get(key)?.failed === null; i++) g.backend.fail(key, 'exit code 1');
    expect(g.snapshot.current.revisions.get(key)?.failed).toMatch(/failed to become ready/);
    const a = await get('/v2/models/broken/ready');
    expect(a.status).toBe(503);
    expect((JSON.parse(a.body) as { error: string }).error).toMatch(/^revision broken-predictor-00001 failed to become ready: .*exit code 1/);
    expect(g.backend.counts(key).ready).toBe(0);
  });
});
