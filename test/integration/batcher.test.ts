import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Pool } from 'undici';
import { createDemoServer, type DemoServer } from '../../examples/demo-runtime/server.js';
import { comparable, mixRequest, seeded, type MixRequest } from '../support/batch-mix.js';
import { isvc } from '../support/controller-harness.js';
import { fire, gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { metricValue } from '../support/metrics-text.js';

const R1 = 'iris-predictor-00001';
const MIX = { model: 'iris', width: 4, inputName: 'input-0', datatypes: ['FP32', 'FP64', 'INT64', 'INT32'], incompatible: true };
/** Requests in the randomized mix (the 10,000). */
const N = Number(process.env['SLUICE_BATCH_MIX_REQUESTS'] ?? 10_000);

async function call(pool: Pool, r: MixRequest, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const answer = await pool.request({ path: r.path, method: 'POST', headers: { 'content-type': r.contentType, ...headers }, body: r.body });
  return { status: answer.statusCode, text: await answer.body.text() };
}

async function batchedService(splitOnError: boolean, batcher: string, replica: { latencyMs?: number; latencyPerRowMs?: number; maxConcurrency?: number } = {}, containerConcurrency = 1): Promise<{ g: GatewayHarness; demo: DemoServer }> {
  const g = await gatewayHarness({}, [], { maxBodyBytes: 1 << 20, splitOnError });
  await g.controller.apply(isvc('iris', 'gs://m/v1', `    minReplicas: 1\n    containerConcurrency: ${containerConcurrency}\n    batcher:\n${batcher}`), 'api');
  const demo = await g.replica(R1, 'v1', { latencyMs: 2, maxConcurrency: 1, ...replica } as never);
  return { g, demo };
}

async function metricsOf(g: GatewayHarness): Promise<string> {
  return g.metrics.registry.metrics();
}

describe('batcher: every caller gets what an unbatched call gives', () => {
  let g: GatewayHarness;
  let reference: DemoServer;
  let direct: Pool;

  beforeAll(async () => {
    ({ g } = await batchedService(true, '      maxBatchSize: 32\n', { latencyMs: 5 }));
    // The reference: the same model, called directly, one request at a time.
    reference = createDemoServer({ modelName: 'iris', label: 'v1' });
    const port = await reference.listen(0, '127.0.0.1');
    await reference.whenReady;
    direct = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
  });
  afterAll(async () => {
    await direct?.close();
    await reference?.shutdown(1000);
    await g?.close();
  });

  it(`${N} randomized v1 and v2 requests (1–8 rows, 4 datatypes, flat and nested, some incompatible): 0 mismatches, each with its own id`, async () => {
    const rnd = seeded(17);
    const requests = Array.from({ length: N }, (_, i) => mixRequest(rnd, i, MIX));
    const batched = await fire(N, 96, (i) => call(g.pool, requests[i]!));
    const unbatched = await fire(N, 8, (i) => call(direct, requests[i]!));
    const mismatches: string[] = [];
    requests.forEach((r, i) => {
      const got = comparable(batched[i]!.status, batched[i]!.text, r.id);
      const want = comparable(unbatched[i]!.status, unbatched[i]!.text, r.id);
      if (JSON.stringify(got) !== JSON.stringify(want) && mismatches.length < 5) mismatches.push(`${r.kind} ${r.body}\n  got  ${JSON.stringify(got)}\n  want ${JSON.stringify(want)}`);
      if (r.id !== null && batched[i]!.status === 200) expect((JSON.parse(batched[i]!.text) as { id: string }).id).toBe(r.id);
    });
    expect(mismatches).toEqual([]);
    const kinds = new Set(requests.map((r) => r.kind));
    expect(kinds.size).toBeGreaterThanOrEqual(12);
    expect(batched.filter((b) => b.status === 400).length).toBeGreaterThan(0);
    // It batched: far fewer requests reached the runtime than were sent, and the odd ones went alone.
    const text = await metricsOf(g);
    const sent = metricValue(text, 'sluice_batcher_batch_requests_count', { revision: R1 })!;
    expect(sent).toBeLessThan(0.8 * N);
    expect(metricValue(text, 'sluice_batcher_batch_requests_sum', { revision: R1 })! / sent).toBeGreaterThan(1.3);
    expect(metricValue(text, 'sluice_batcher_alone_total', { revision: R1, reason: 'shape' })).toBeGreaterThan(0);
    expect(metricValue(text, 'sluice_batcher_alone_total', { revision: R1, reason: 'not_json' })).toBeGreaterThan(0);
    expect(metricValue(text, 'sluice_batcher_split_retries_total', { revision: R1 })).toBeGreaterThan(0);
  }, 300_000);
});

describe('batcher: errors, disconnects and deadlines', () => {
  const good = (i: number): MixRequest => ({ path: '/v1/models/iris:predict', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]], n: 1 }), contentType: 'application/json', id: null, kind: `good-${i}` });
  const bad: MixRequest = { path: '/v1/models/iris:predict', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 'x']], n: 1 }), contentType: 'application/json', id: null, kind: 'bad' };

  /** Sends one request that occupies the replica, then `rest` while it is busy, so they form one batch. */
  async function oneBatch(g: GatewayHarness, demo: DemoServer, rest: MixRequest[]): Promise<Array<{ status: number; text: string }>> {
    const first = call(g.pool, good(0));
    await waitFor(() => demo.stats().inFlight === 1);
    const answers = Promise.all(rest.map((r) => call(g.pool, r)));
    await waitFor(() => g.gateway.activeRequests === rest.length + 1);
    await new Promise((r) => setTimeout(r, 20)); // their bodies read
    await first;
    return answers;
  }

  it('without split: the runtime\'s 400 reaches every caller of the batch (status and body), never a 200', async () => {
    const { g, demo } = await batchedService(false, '      maxBatchSize: 32\n', { latencyMs: 100 });
    try {
      const answers = await oneBatch(g, demo, [good(1), bad, good(2)]);
      expect(answers.map((a) => a.status)).toEqual([400, 400, 400]);
      expect(answers[0]!.text).toMatch(/instances\[1\]\[3\]: expected a number/);
      expect(metricValue(await metricsOf(g), 'sluice_batcher_batch_requests_sum', { revision: R1 })).toBe(4);
    } finally {
      await g.close();
    }
  });

  it('with split: only the bad request gets the runtime\'s 400, with the message an unbatched call gets', async () => {
    const { g, demo } = await batchedService(true, '      maxBatchSize: 32\n', { latencyMs: 100 });
    try {
      const answers = await oneBatch(g, demo, [good(1), bad, good(2), good(3)]);
      expect(answers.map((a) => a.status)).toEqual([200, 400, 200, 200]);
      expect(JSON.parse(answers[1]!.text)).toEqual({ error: 'instances[0][3]: expected a number, got "x"' });
      expect(JSON.parse(answers[0]!.text)).toEqual({ predictions: [1], model_version: 'v1' });
      expect(metricValue(await metricsOf(g), 'sluice_batcher_split_retries_total', { revision: R1 })).toBeGreaterThanOrEqual(1);
    } finally {
      await g.close();
    }
  });

  it('a caller that leaves before its batch is sent is taken out of it; its deadline is kept (504) while others are answered', async () => {
    const { g, demo } = await batchedService(false, '      maxBatchSize: 32\n      maxLatency: 60000\n', { latencyMs: 300 });
    try {
      const first = call(g.pool, good(0));
      await waitFor(() => demo.stats().inFlight === 1);
      const leaving = new AbortController();
      const left = g.pool
        .request({ path: good(9).path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [[1, 1, 1, 1], [2, 2, 2, 2]], n: 1 }), signal: leaving.signal })
        .then(() => 'answered', () => 'aborted');
      const staying = call(g.pool, good(1));
      await waitFor(() => g.gateway.activeRequests === 3);
      leaving.abort();
      expect(await left).toBe('aborted');
      await first;
      expect((await staying).status).toBe(200);
      // The batch sent held only the staying caller's row.
      const text = await metricsOf(g);
      expect(metricValue(text, 'sluice_batcher_batch_rows_sum', { revision: R1 })).toBe(2);
      // Deadlines (the fake clock moves; no wall time): one caller is with the runtime, one waits in a batch.
      // Both get 504 when the 300 s request timeout passes; the waiting one never reaches the runtime.
      const again = call(g.pool, good(0));
      await waitFor(() => demo.stats().inFlight === 1);
      const late = call(g.pool, good(2));
      await waitFor(() => g.gateway.activeRequests === 2);
      await new Promise((r) => setTimeout(r, 20));
      const predictions = demo.stats().predictions;
      g.clock.advance(301_000);
      expect((await late).status).toBe(504);
      expect((await again).status).toBe(504);
      await waitFor(() => demo.stats().inFlight === 0);
      await new Promise((r) => setTimeout(r, 50));
      expect(demo.stats().predictions).toBe(predictions);
    } finally {
      await g.close();
    }
  });

  it('a caller that leaves after its batch was sent: its slice is dropped, the others are answered', async () => {
    const { g, demo } = await batchedService(false, '      maxBatchSize: 32\n', { latencyMs: 300 });
    try {
      const first = call(g.pool, good(0));
      await waitFor(() => demo.stats().inFlight === 1);
      const leaving = new AbortController();
      const left = g.pool
        .request({ path: good(9).path, method: 'POST', headers: { 'content-type': 'application/json' }, body: good(9).body, signal: leaving.signal })
        .then(() => 'answered', () => 'aborted');
      const staying = call(g.pool, good(1));
      await waitFor(() => g.gateway.activeRequests === 3);
      await first;
      // The batch of the two is now with the runtime.
      await waitFor(() => demo.stats().inFlight === 1);
      const predictions = demo.stats().predictions;
      leaving.abort();
      expect(await left).toBe('aborted');
      expect(await staying).toEqual({ status: 200, text: '{"predictions":[1],"model_version":"v1"}' });
      expect(demo.stats().predictions).toBe(predictions);
      expect(metricValue(await metricsOf(g), 'sluice_batcher_batch_rows_sum', { revision: R1 })).toBe(3);
    } finally {
      await g.close();
    }
  });

  it('from zero: batches are held by the activator (and wake the revision) while every caller counts as demand', async () => {
    const g = await gatewayHarness({}, [], { maxBodyBytes: 1 << 20, splitOnError: false });
    try {
      await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 0\n    containerConcurrency: 1\n    batcher:\n      maxBatchSize: 4\n      maxLatency: 10\n'), 'api');
      const answers = Promise.all(Array.from({ length: 10 }, (_, i) => call(g.pool, good(i))));
      await waitFor(() => g.gateway.activeRequests === 10);
      await new Promise((r) => setTimeout(r, 30));
      g.clock.advance(10); // the pending batch reaches maxLatency
      const text = await metricsOf(g);
      // Ten callers of demand, in a handful of held batches (the first went at once; the rest filled to 4 or 10 ms).
      expect(metricValue(text, 'sluice_inflight_requests', { revision: R1 })).toBe(10);
      const held = metricValue(text, 'sluice_activator_held_requests', { revision: R1 })!;
      expect(held).toBeGreaterThanOrEqual(2);
      expect(held).toBeLessThanOrEqual(4);
      await waitFor(() => (g.backend.desired.get(`default/${R1}`) ?? 0) >= 1); // the held batches woke it
      // A replica comes up: every caller is answered.
      const demo = createDemoServer({ modelName: 'iris', label: 'v1' });
      const port = await demo.listen(0, '127.0.0.1');
      await demo.whenReady;
      g.backend.markReady(`default/${R1}`, `http://127.0.0.1:${port}`);
      expect((await answers).map((a) => a.status)).toEqual(Array.from({ length: 10 }, () => 200));
      expect(demo.stats().predictions).toBe(held);
      await demo.shutdown(1000);
    } finally {
      await g.close();
    }
  });

  it('a client that stops sending its body while the batcher reads it gets 408 naming bodyTimeoutSeconds (fake clock)', async () => {
    const g = await gatewayHarness({}, [], { maxBodyBytes: 1 << 20, splitOnError: false, bodyTimeoutMs: 30_000 });
    try {
      await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n    batcher:\n      maxBatchSize: 8\n'), 'api');
      const { port } = new URL(g.url);
      const socket = connect(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.write('POST /v1/models/iris:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"instances": ');
      await waitFor(() => g.gateway.activeRequests === 1);
      await new Promise((r) => setTimeout(r, 20));
      g.clock.advance(29_000);
      await new Promise((r) => setTimeout(r, 20));
      expect(text).toBe('');
      g.clock.advance(1_000);
      await waitFor(() => text.includes('\r\n\r\n{'));
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      expect(text).toContain('bodyTimeoutSeconds=30');
      socket.destroy();
    } finally {
      await g.close();
    }
  });

  it('waits only when busy: an idle replica gets a request at once; while busy, a batch leaves at maxLatency (fake clock)', async () => {
    const { g, demo } = await batchedService(false, '      maxBatchSize: 32\n      maxLatency: 50\n', { latencyMs: 400, maxConcurrency: 2 }, 0);
    try {
      // containerConcurrency 0: one batch in flight per replica; the second waits for a slot or maxLatency.
      const first = call(g.pool, good(0));
      await waitFor(() => demo.stats().inFlight === 1);
      const second = call(g.pool, good(1));
      await waitFor(() => g.gateway.activeRequests === 2);
      await new Promise((r) => setTimeout(r, 50));
      expect(demo.stats().inFlight).toBe(1);
      g.clock.advance(50);
      await waitFor(() => demo.stats().inFlight === 2);
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
    } finally {
      await g.close();
    }
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
