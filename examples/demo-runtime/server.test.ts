import { afterEach, describe, expect, it } from 'vitest';
import { createDemoServer, type DemoOptions, type DemoServer } from './server.js';
import { IRIS_MODEL_DIR } from '../../test/support/paths.js';

const VERSICOLOR = [6.8, 2.8, 4.8, 1.4];
const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = [6.3, 3.3, 6.0, 2.5];

const started: DemoServer[] = [];

async function start(opts: Partial<DemoOptions> = {}): Promise<{ demo: DemoServer; base: string }> {
  const demo = createDemoServer({ modelName: 'iris', modelDir: IRIS_MODEL_DIR, ...opts });
  started.push(demo);
  const port = await demo.listen(0);
  return { demo, base: `http://127.0.0.1:${port}` };
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.shutdown(1_000)));
});

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await check()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

describe('demo runtime: KServe v1', () => {
  it('classifies iris rows from model.json', async () => {
    const { demo, base } = await start();
    await demo.whenReady;
    const r = await post(`${base}/v1/models/iris:predict`, { instances: [VERSICOLOR, SETOSA, VIRGINICA] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ predictions: [1, 0, 2] });
  });

  it('uses the built-in coefficients without a model dir, and reports model readiness', async () => {
    const { demo, base } = await start({ modelDir: null });
    await demo.whenReady;
    expect(await (await fetch(`${base}/v1/models/iris`)).json()).toEqual({ name: 'iris', ready: true });
    expect((await post(`${base}/v1/models/iris:predict`, { instances: [VERSICOLOR] })).json).toEqual({ predictions: [1] });
  });

  it('answers KServe error shapes: 404 unknown model, 400 bad JSON or shape, 405 wrong method', async () => {
    const { demo, base } = await start();
    await demo.whenReady;
    const unknown = await post(`${base}/v1/models/flowers:predict`, { instances: [VERSICOLOR] });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'Model with name flowers does not exist.' });

    const badJson = await post(`${base}/v1/models/iris:predict`, '{"instances": [[1,2');
    expect(badJson.status).toBe(400);
    expect(String(badJson.json['error'])).toMatch(/^Unrecognized request format/);

    const shortRow = await post(`${base}/v1/models/iris:predict`, { instances: [VERSICOLOR, [1, 2, 3]] });
    expect(shortRow.status).toBe(400);
    expect(shortRow.json).toEqual({ error: 'instances[1]: expected 4 numbers, got 3' });

    const noInstances = await post(`${base}/v1/models/iris:predict`, { rows: [] });
    expect(noInstances.status).toBe(400);
    expect(noInstances.json['error']).toMatch(/instances/);

    const get = await fetch(`${base}/v1/models/iris:predict`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(await get.json()).toEqual({ error: 'Method GET not allowed on /v1/models/iris:predict' });
  });
});

describe('demo runtime: KServe v2 (Open Inference Protocol)', () => {
  it('serves health, server and model metadata', async () => {
    const { demo, base } = await start();
    await demo.whenReady;
    expect(await (await fetch(`${base}/v2/health/live`)).json()).toEqual({ live: true });
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    expect(await (await fetch(`${base}/v2`)).json()).toMatchObject({ name: 'sluice-demo', extensions: ['binary_tensor_data'] });
    expect(await (await fetch(`${base}/v2/models/iris`)).json()).toEqual({
      name: 'iris',
      versions: ['1'],
      platform: 'sluice-demo',
      inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'output-0', datatype: 'INT64', shape: [-1] }],
    });
    expect(await (await fetch(`${base}/v2/models/iris/ready`)).json()).toEqual({ name: 'iris', ready: true });
    expect((await fetch(`${base}/v2/models/other/ready`)).status).toBe(404);
  });

  it('infers from flat or nested data and echoes the request id', async () => {
    const { demo, base } = await start();
    await demo.whenReady;
    const flat = await post(`${base}/v2/models/iris/infer`, {
      id: 'req-1',
      inputs: [{ name: 'input-0', shape: [3, 4], datatype: 'FP32', data: [...VERSICOLOR, ...SETOSA, ...VIRGINICA] }],
    });
    expect(flat.status).toBe(200);
    expect(flat.json).toEqual({
      model_name: 'iris',
      model_version: '1',
      id: 'req-1',
      outputs: [{ name: 'output-0', shape: [3], datatype: 'INT64', data: [1, 0, 2] }],
    });
    const nested = await post(`${base}/v2/models/iris/versions/1/infer`, {
      inputs: [{ name: 'input-0', shape: [2, 4], datatype: 'FP64', data: [VIRGINICA, SETOSA] }],
    });
    expect(nested.status).toBe(200);
    expect(nested.json['id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((nested.json['outputs'] as Array<{ data: number[] }>)[0]!.data).toEqual([2, 0]);
  });

  it('names the problem in a bad infer request', async () => {
    const { demo, base } = await start();
    await demo.whenReady;
    const wrongShape = await post(`${base}/v2/models/iris/infer`, {
      inputs: [{ name: 'input-0', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }],
    });
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.json).toEqual({ error: 'inputs[0].shape: expected [N, 4], got [1,3]' });
    const short = await post(`${base}/v2/models/iris/infer`, {
      inputs: [{ name: 'input-0', shape: [2, 4], datatype: 'FP32', data: VERSICOLOR }],
    });
    expect(short.json).toEqual({ error: 'inputs[0].data: shape [2,4] needs 8 values, got 4' });
    const badType = await post(`${base}/v2/models/iris/infer`, {
      inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'BYTES', data: VERSICOLOR }],
    });
    expect(badType.status).toBe(400);
    expect(badType.json['error']).toMatch(/^inputs\[0\]\.datatype/);
  });
});

describe('demo runtime knobs', () => {
  it('labels responses so revisions can be told apart', async () => {
    const { demo, base } = await start({ label: 'green', replicaId: 'r-7' });
    await demo.whenReady;
    const v1 = await post(`${base}/v1/models/iris:predict`, { instances: [SETOSA] });
    expect(v1.headers.get('x-demo-label')).toBe('green');
    expect(v1.headers.get('x-demo-replica')).toBe('r-7');
    expect(v1.json).toEqual({ predictions: [0], model_version: 'green' });
    const v2 = await post(`${base}/v2/models/iris/infer`, {
      inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'FP32', data: SETOSA }],
    });
    expect(v2.json['model_version']).toBe('green');
  });

  it('reports ready only after the start-up delay', async () => {
    const t0 = Date.now();
    const { base } = await start({ startupDelayMs: 400 });
    const first = await fetch(`${base}/v2/health/ready`);
    expect(first.status).toBe(503);
    expect(await first.json()).toEqual({ error: 'Model with name iris is not ready.' });
    expect((await post(`${base}/v1/models/iris:predict`, { instances: [SETOSA] })).status).toBe(503);
    await waitFor(async () => (await fetch(`${base}/v2/health/ready`)).status === 200, 5_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
  });

  it('holds each prediction for the configured latency', async () => {
    const { demo, base } = await start({ latencyMs: 250 });
    await demo.whenReady;
    const t0 = Date.now();
    expect((await post(`${base}/v1/models/iris:predict`, { instances: [SETOSA] })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(245);
  });

  it('queues requests beyond max concurrency in FIFO order, like a worker pool', async () => {
    const { demo, base } = await start({ latencyMs: 200, maxConcurrency: 1 });
    await demo.whenReady;
    const t0 = Date.now();
    const done: number[] = [];
    const send = (i: number) =>
      post(`${base}/v1/models/iris:predict`, { instances: [SETOSA] }).then((r) => {
        done.push(i);
        return { status: r.status, ms: Date.now() - t0 };
      });
    // Arrivals in a known order: each request reaches the server before the next is sent.
    const calls = [send(0)];
    await waitFor(async () => demo.stats().inFlight === 1, 2_000);
    calls.push(send(1));
    await waitFor(async () => demo.stats().queued === 1, 2_000);
    calls.push(send(2));
    await waitFor(async () => demo.stats().queued === 2, 2_000);
    expect(demo.stats().inFlight).toBe(1);
    // Waiting for a slot counts as concurrent: what a gateway sent the runtime at once.
    expect(demo.stats()).toMatchObject({ concurrent: 3, maxConcurrent: 3 });
    const results = await Promise.all(calls);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(done).toEqual([0, 1, 2]);
    // One at a time: the last finishes only after three latencies.
    expect(Math.max(...results.map((r) => r.ms))).toBeGreaterThanOrEqual(590);
    expect(demo.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('answers 503 over capacity when told to reject instead of queueing', async () => {
    const { demo, base } = await start({ latencyMs: 200, maxConcurrency: 1, rejectOverCapacity: true });
    await demo.whenReady;
    const statuses = await Promise.all(
      [0, 1, 2].map(async () => (await post(`${base}/v1/models/iris:predict`, { instances: [SETOSA] })).status),
    );
    expect(statuses.sort()).toEqual([200, 503, 503]);
  });

  it('fails exactly floor(n x rate) of n predictions, deterministically', async () => {
    const { demo, base } = await start({ errorRate: 0.25 });
    await demo.whenReady;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await post(`${base}/v1/models/iris:predict`, { instances: [SETOSA] });
      statuses.push(r.status);
      if (r.status === 500) expect(r.json['error']).toMatch(/injected error/);
    }
    expect(statuses).toEqual([200, 200, 200, 500, 200, 200, 200, 500]);
    expect(demo.stats()).toMatchObject({ predictions: 8, injectedErrors: 2 });
    expect(await (await fetch(`${base}/demo/stats`)).json()).toEqual({ inFlight: 0, queued: 0, predictions: 8, injectedErrors: 2, requests: 1, concurrent: 0, maxConcurrent: 1 });
  });
});
