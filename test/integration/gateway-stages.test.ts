import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttributeKey, type Exchange } from '../../gateway/exchange.js';
import type { Refusal, Stage } from '../../gateway/stage.js';
import { isvc } from '../support/controller-harness.js';
import { gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';

const R1 = 'iris-predictor-00001';
const KEY = `default/${R1}`;

interface Trace {
  id: string;
  hooks: string[];
  status: number;
  revision: string | null;
  admitted: boolean;
}

const HOOKS = new AttributeKey<string[]>('test-hooks');

describe('gateway stages on real sockets (gateway → stages → activator → forwarder → demo replica)', () => {
  let g: GatewayHarness;
  let pool: Pool;
  const traces: Trace[] = [];
  const note = (ex: Exchange, hook: string): void => {
    let hooks = ex.get(HOOKS);
    if (!hooks) ex.set(HOOKS, (hooks = []));
    hooks.push(hook);
  };

  // Records every hook, and changes the headers both ways.
  const recorder: Stage = {
    name: 'test-recorder',
    onArrival: (ex) => note(ex, 'arrival'),
    onRouted: (ex) => note(ex, 'routed'),
    // A request admitted after a stage's promise is past its arrival's run: its times come from the clock again.
    onAdmitted: (ex) => note(ex, ex.sameRun ? 'admitted' : 'admitted after a wait'),
    onUpstreamHeaders(ex, headers) {
      note(ex, 'upstream');
      headers['x-request-id'] = 'set-by-a-stage';
    },
    onResponseStart(ex, status, headers) {
      note(ex, `response ${status}`);
      headers['x-test-stage'] = 'seen';
    },
    onDone(ex) {
      note(ex, 'done');
      const id = ex.req.headers['x-test-id'];
      traces.push({ id: typeof id === 'string' ? id : '', hooks: ex.get(HOOKS)!, status: ex.status, revision: ex.rev?.name ?? null, admitted: ex.admitted });
    },
  };
  // Refuses on request: on arrival (413), after routing with an asynchronous answer (401), or throws.
  const gate: Stage = {
    name: 'test-gate',
    onArrival(ex): Refusal | Promise<undefined> | undefined {
      const how = ex.req.headers['x-test-refuse'];
      if (how === 'arrival') return { status: 413, message: 'too large for this test' };
      // Lets the request through, but only after a turn of the event loop (a stage that looks something up).
      if (how === 'later') return new Promise((resolve) => setImmediate(() => resolve(undefined)));
      return undefined;
    },
    onRouted(ex): Promise<Refusal | undefined> | undefined {
      const how = ex.req.headers['x-test-refuse'];
      if (how === 'throw') throw new Error('a stage failed');
      if (how !== 'routed') return undefined;
      return new Promise((resolve) =>
        setImmediate(() => resolve({ status: 401, message: 'no credentials', headers: { 'www-authenticate': 'Bearer realm="test"' } })),
      );
    },
  };

  const infer = async (id: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => {
    const r = await pool.request({
      path: '/v2/models/iris/infer',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-id': id, ...headers },
      body: JSON.stringify({ inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'FP32', data: [6.8, 2.8, 4.8, 1.4] }] }),
    });
    return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
  };
  const trace = (id: string): Trace | undefined => traces.find((t) => t.id === id);
  const requestsTotal = async (): Promise<Record<string, number>> => {
    const text = await g.metrics.registry.metrics();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^sluice_requests_total\{[^}]*revision="iris-predictor-00001",code="(\d+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
    return out;
  };

  beforeAll(async () => {
    g = await gatewayHarness({}, [recorder, gate]);
    pool = new Pool(g.url, { connections: 8 });
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
    await g.replica(R1, 'v1');
  });
  afterAll(async () => {
    await pool?.close();
    await g?.close();
  });

  it('runs the hooks in order, and a stage’s headers reach the replica and the client', async () => {
    const r = await infer('ok');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ id: 'set-by-a-stage' }); // the demo runtime echoes x-request-id
    expect(r.headers['x-test-stage']).toBe('seen');
    expect(trace('ok')).toEqual({ id: 'ok', hooks: ['arrival', 'routed', 'admitted', 'upstream', 'response 200', 'done'], status: 200, revision: R1, admitted: true });
  });

  it('a stage that lets a request through asynchronously on arrival: the rest of its way and its hooks are as for any other', async () => {
    const r = await infer('later', { 'x-test-refuse': 'later' });
    expect(r.status).toBe(200);
    expect(r.headers['x-test-stage']).toBe('seen');
    expect(trace('later')).toEqual({ id: 'later', hooks: ['arrival', 'routed', 'admitted after a wait', 'upstream', 'response 200', 'done'], status: 200, revision: R1, admitted: true });
  });

  it('a refusal on arrival is answered by the error writer before routing; no revision counts it', async () => {
    const before = await requestsTotal();
    const r = await infer('arrival', { 'x-test-refuse': 'arrival' });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: 'too large for this test' });
    expect(trace('arrival')).toEqual({ id: 'arrival', hooks: ['arrival', 'done'], status: 413, revision: null, admitted: false });
    expect(await requestsTotal()).toEqual(before);
  });

  it('an asynchronous refusal after routing keeps its headers, is counted once by code and is not demand', async () => {
    const before = await requestsTotal();
    const r = await infer('routed', { 'x-test-refuse': 'routed' });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="test"');
    expect(JSON.parse(r.body)).toEqual({ error: 'no credentials' });
    expect(trace('routed')).toEqual({ id: 'routed', hooks: ['arrival', 'routed', 'done'], status: 401, revision: R1, admitted: false });
    expect(await requestsTotal()).toEqual({ ...before, 401: (before['401'] ?? 0) + 1 });
  });

  it('a stage that throws gets a 500 from the error writer; the gateway keeps serving', async () => {
    const r = await infer('throw', { 'x-test-refuse': 'throw' });
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toEqual({ error: 'internal gateway error' });
    expect(trace('throw')).toMatchObject({ hooks: ['arrival', 'routed', 'done'], status: 500, admitted: false });
    expect((await infer('after-throw')).status).toBe(200);
  });

  it('counts every request exactly once: demand only for admitted ones, series by code for every routed one', async () => {
    const t0 = g.clock.now();
    const codes = await requestsTotal();
    const routed = traces.filter((t) => t.revision !== null);
    const byCode: Record<string, number> = {};
    for (const t of routed) byCode[String(t.status)] = (byCode[String(t.status)] ?? 0) + 1;
    expect(codes).toEqual(byCode);
    expect(g.collector.inflight(KEY)).toBe(0);
    expect(await g.metrics.registry.metrics()).toMatch(/^sluice_inflight_requests\{[^}]*revision="iris-predictor-00001"\} 0$/m);
    // The autoscaler's demand: the collector's buckets hold the admitted requests only.
    g.clock.advance(2000);
    await g.collector.flush();
    const buckets = await g.store.readBuckets(KEY, Math.floor(t0 / 1000) - 10, Math.floor(t0 / 1000) + 10);
    expect(buckets.reduce((n, b) => n + b.requests, 0)).toBe(routed.filter((t) => t.admitted).length);
    expect(routed.filter((t) => t.admitted).length).toBe(3);
  });
});
