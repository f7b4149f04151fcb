/**
 * Tracing through the real data path (gateway → stages → activator → forwarder → replica on real sockets), spans
 * exported by the real OTLP/HTTP protobuf exporter to an in-test receiver that decodes them with the official
 * proto definitions. The replicas here are tiny upstreams that record the headers they got.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { SluiceMetrics } from '../../core/metrics.js';
import { startTracing, type Tracing } from '../../core/tracing.js';
import { resolveTracingSettings } from '../../core/tracing-settings.js';
import { SERVE_DEFAULTS } from '../../core/config.js';
import { HOLD_SPAN, TRACE_ID_HEADER, TracingStage } from '../../gateway/stages/tracing.js';
import { isvc } from '../support/controller-harness.js';
import { gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { waitUntil } from '../support/wait.js';

const R1 = 'iris-predictor-00001';
const KEY = `default/${R1}`;
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

/** A replica that answers 200 (or `status`) and keeps the headers of every request. */
async function upstream(status = 200): Promise<{ url: string; seen: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'application/json' }).end('{"predictions":[1]}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A loopback port nothing listens on (a replica that was killed). */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  await new Promise<void>((r) => s.close(() => r()));
  return url;
}

const traceparentOf = (h: IncomingHttpHeaders): { traceId: string; parentId: string; flags: string } | null => {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(String(h.traceparent ?? ''));
  return m ? { traceId: m[1]!, parentId: m[2]!, flags: m[3]! } : null;
};

describe('tracing on the data path (OTLP/HTTP protobuf to a real receiver)', () => {
  let receiver: OtlpReceiver;
  let tracing: Tracing;
  let g: GatewayHarness;
  let pool: Pool;
  const upstreams: Awaited<ReturnType<typeof upstream>>[] = [];

  const predict = async (headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => {
    const r = await pool.request({
      path: '/v1/models/iris:predict',
      method: 'POST',
      headers: { 'content-type': 'application/json', host: 'iris.default.example.com', ...headers },
      body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }),
    });
    return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
  };
  const byKind = (spans: ReceivedSpan[], kind: string): ReceivedSpan[] => spans.filter((s) => s.kind === kind);

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const settings = resolveTracingSettings(
      { ...SERVE_DEFAULTS, tracingEndpoint: receiver.url, tracingSampler: 'parentbased_always_on' },
      {},
    )!;
    tracing = startTracing(settings, { metrics: new SluiceMetrics(), logger: silentLogger() });
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const stage = new TracingStage({ tracer: tracing.tracer, propagator: tracing.propagator, clock, activeReplicas: (k) => g.activator.activeReplicas(k) });
    g = await gatewayHarness({ clock }, [stage]);
    pool = new Pool(g.url, { connections: 8 });
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n    timeout: 30\n'), 'api');
  });
  afterAll(async () => {
    await pool?.close();
    await g?.close();
    await tracing?.shutdown(2000);
    await Promise.all(upstreams.map((u) => u.close()));
    await receiver?.close();
  });

  it('continues the client’s trace, forwards traceparent (naming the attempt’s span) and tracestate to the replica', async () => {
    const up = await upstream();
    upstreams.push(up);
    const ep = g.backend.markReady(KEY, up.url);
    const r = await predict({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=abc,other=1' });
    expect(r.status).toBe(200);
    expect(r.headers[TRACE_ID_HEADER]).toBe(TRACE);
    const sent = traceparentOf(up.seen.at(-1)!);
    expect(sent?.traceId).toBe(TRACE);
    expect(sent?.flags).toBe('01');
    expect(sent?.parentId).not.toBe(PARENT);
    expect(up.seen.at(-1)!.tracestate).toBe('vendor=abc,other=1');

    const spans = await receiver.waitForTrace(TRACE, (s) => s.length >= 2);
    const [server] = byKind(spans, 'SPAN_KIND_SERVER');
    const [client] = byKind(spans, 'SPAN_KIND_CLIENT');
    expect(server).toBeDefined();
    expect(client).toBeDefined();
    expect(server!.parentSpanId).toBe(PARENT);
    expect(server!.name).toBe('POST /v1/models/{model}:predict');
    expect(server!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/models/{model}:predict',
      'url.path': '/v1/models/iris:predict',
      'http.response.status_code': 200,
      'server.address': 'iris.default.example.com',
      'network.protocol.version': '1.1',
      'client.address': '127.0.0.1',
      'sluice.inferenceservice': 'iris',
      'sluice.namespace': 'default',
      'sluice.revision': R1,
      'sluice.replica': ep.id,
    });
    expect(server!.status).toBe('STATUS_CODE_UNSET');
    expect(server!.resource['service.name']).toBe('sluice');
    // The replica's parent is the attempt's client span, itself a child of the server span.
    expect(client!.spanId).toBe(sent!.parentId);
    expect(client!.parentSpanId).toBe(server!.spanId);
    expect(client!.name).toBe('POST');
    expect(client!.attributes).toMatchObject({ 'http.response.status_code': 200, 'server.address': '127.0.0.1', 'sluice.replica': ep.id });
    expect(client!.attributes['url.full']).toBe(`${up.url}/v1/models/iris:predict`);
    expect(receiver.contentTypes).toEqual(new Set(['application/x-protobuf']));
    g.backend.markRemoved(ep);
  });

  it('a request without trace context starts a trace; the replica still gets a traceparent', async () => {
    const up = await upstream();
    upstreams.push(up);
    const ep = g.backend.markReady(KEY, up.url);
    const r = await predict();
    expect(r.status).toBe(200);
    const sent = traceparentOf(up.seen.at(-1)!)!;
    expect(sent).not.toBeNull();
    expect(up.seen.at(-1)!.tracestate).toBeUndefined();
    expect(r.headers[TRACE_ID_HEADER]).toBe(sent.traceId);
    const spans = await receiver.waitForTrace(sent.traceId, (s) => s.length >= 2);
    expect(byKind(spans, 'SPAN_KIND_SERVER')[0]!.parentSpanId).toBe('');
    g.backend.markRemoved(ep);
  });

  it('a retry after a killed replica shows two client spans: the failed attempt and the one that answered', async () => {
    const dead = g.backend.markReady(KEY, await deadUrl());
    const up = await upstream();
    upstreams.push(up);
    const pending = predict({ traceparent: `00-${'1'.repeat(32)}-${PARENT}-01` });
    // The dead replica refuses the connection and leaves the rotation; the request waits for another replica.
    await waitUntil('the retry to be held', () => g.activator.held(KEY) > 0);
    const live = g.backend.markReady(KEY, up.url);
    const r = await pending;
    expect(r.status).toBe(200);
    const spans = await receiver.waitForTrace('1'.repeat(32), (s) => byKind(s, 'SPAN_KIND_SERVER').length === 1);
    const clients = byKind(spans, 'SPAN_KIND_CLIENT').sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
    expect(clients).toHaveLength(2);
    expect(clients[0]!.status).toBe('STATUS_CODE_ERROR');
    expect(clients[0]!.attributes).toMatchObject({ 'error.type': 'ECONNREFUSED', 'sluice.replica': dead.id });
    expect(clients[0]!.attributes['http.response.status_code']).toBeUndefined();
    expect(clients[1]!.status).toBe('STATUS_CODE_UNSET');
    expect(clients[1]!.attributes).toMatchObject({ 'http.request.resend_count': 1, 'http.response.status_code': 200, 'sluice.replica': live.id });
    // Between them, the wait for another replica.
    expect(spans.filter((s) => s.name === HOLD_SPAN)).toHaveLength(1);
    // The replica that answered was told the second attempt's span.
    expect(traceparentOf(up.seen.at(-1)!)!.parentId).toBe(clients[1]!.spanId);
    g.backend.markRemoved(live);
  });

  it('a request held past its deadline (504) shows an error hold span at zero and an error server span', async () => {
    const pending = predict({ traceparent: `00-${'2'.repeat(32)}-${PARENT}-01` });
    await waitUntil('the request to be held', () => g.activator.held(KEY) > 0);
    g.clock.advance(31_000);
    const r = await pending;
    expect(r.status).toBe(504);
    const spans = await receiver.waitForTrace('2'.repeat(32), (s) => byKind(s, 'SPAN_KIND_SERVER').length === 1);
    const hold = spans.find((s) => s.name === HOLD_SPAN)!;
    const server = byKind(spans, 'SPAN_KIND_SERVER')[0]!;
    expect(hold.parentSpanId).toBe(server.spanId);
    expect(hold.status).toBe('STATUS_CODE_ERROR');
    expect(hold.attributes).toMatchObject({ 'error.type': '504', 'sluice.cold_start': true });
    expect(hold.attributes['sluice.hold.wait_ms']).toBeGreaterThanOrEqual(30_000);
    expect(server.status).toBe('STATUS_CODE_ERROR');
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 504, 'error.type': '504' });
    expect(byKind(spans, 'SPAN_KIND_CLIENT')).toHaveLength(0);
  });

  it('a request held until a replica starts shows a sluice.hold span with the wait and cold-start=true', async () => {
    const pending = predict({ traceparent: `00-${'3'.repeat(32)}-${PARENT}-01` });
    await waitUntil('the request to be held', () => g.activator.held(KEY) > 0);
    g.clock.advance(1234);
    const up = await upstream();
    upstreams.push(up);
    g.backend.markReady(KEY, up.url);
    expect((await pending).status).toBe(200);
    const spans = await receiver.waitForTrace('3'.repeat(32), (s) => byKind(s, 'SPAN_KIND_SERVER').length === 1);
    const hold = spans.find((s) => s.name === HOLD_SPAN)!;
    expect(hold.attributes).toEqual({ 'sluice.hold.wait_ms': 1234, 'sluice.cold_start': true });
    expect(hold.status).toBe('STATUS_CODE_UNSET');
    const server = byKind(spans, 'SPAN_KIND_SERVER')[0]!;
    expect(server.attributes['sluice.cold_start_ms']).toBe(1234);
    // The hold comes before the attempt it led to (the SDK starts a span at Date.now(), whole milliseconds, and
    // ends it by the high-resolution clock: allow that millisecond).
    const client = byKind(spans, 'SPAN_KIND_CLIENT')[0]!;
    expect(hold.endNs <= client.startNs + 1_000_000n).toBe(true);
  });

  it('a replica’s 5xx makes the client span an error, and the server span too', async () => {
    const up = await upstream(500);
    upstreams.push(up);
    for (const e of g.backend.endpoints(KEY)) g.backend.markRemoved(e);
    g.backend.markReady(KEY, up.url);
    const r = await predict({ traceparent: `00-${'4'.repeat(32)}-${PARENT}-01` });
    expect(r.status).toBe(500);
    const spans = await receiver.waitForTrace('4'.repeat(32), (s) => s.length >= 2);
    expect(byKind(spans, 'SPAN_KIND_CLIENT')[0]!.attributes['error.type']).toBe('500');
    expect(byKind(spans, 'SPAN_KIND_CLIENT')[0]!.status).toBe('STATUS_CODE_ERROR');
    expect(byKind(spans, 'SPAN_KIND_SERVER')[0]!.status).toBe('STATUS_CODE_ERROR');
  });

  it('a batched request (spec.predictor.batcher) gets its client span like any other: ended with the answer, not an error, its traceparent sent', async () => {
    await g.controller.apply(isvc('lilac', 'gs://m/v1', '    minReplicas: 1\n    timeout: 30\n    batcher:\n      maxBatchSize: 8\n'), 'api');
    const up = await upstream();
    upstreams.push(up);
    g.backend.markReady('default/lilac-predictor-00001', up.url);
    const trace = '6'.repeat(32);
    const r = await pool.request({
      path: '/v1/models/lilac:predict',
      method: 'POST',
      headers: { 'content-type': 'application/json', host: 'lilac.default.example.com', traceparent: `00-${trace}-${PARENT}-01` },
      body: JSON.stringify({ instances: [[1, 2]] }),
    });
    await r.body.text();
    expect(r.statusCode).toBe(200);
    const spans = await receiver.waitForTrace(trace, (s) => s.length >= 2);
    const [server] = byKind(spans, 'SPAN_KIND_SERVER');
    const [client] = byKind(spans, 'SPAN_KIND_CLIENT');
    expect(client, 'a client span for the batch the request went in').toBeDefined();
    expect(client!.status).toBe('STATUS_CODE_UNSET');
    expect(client!.parentSpanId).toBe(server!.spanId);
    expect(traceparentOf(up.seen.at(-1)!)?.parentId).toBe(client!.spanId);
    expect(server!.status).toBe('STATUS_CODE_UNSET');
  });

  it('an unsampled incoming parent is respected: nothing exported, the replica gets the unsampled flag', async () => {
    const up = await upstream();
    upstreams.push(up);
    for (const e of g.backend.endpoints(KEY)) g.backend.markRemoved(e);
    g.backend.markReady(KEY, up.url);
    const r = await predict({ traceparent: `00-${'5'.repeat(32)}-${PARENT}-00`, tracestate: 'vendor=abc' });
    expect(r.status).toBe(200);
    expect(r.headers[TRACE_ID_HEADER]).toBeUndefined();
    const sent = traceparentOf(up.seen.at(-1)!)!;
    expect(sent).toMatchObject({ traceId: '5'.repeat(32), flags: '00' });
    expect(sent.parentId).not.toBe(PARENT);
    expect(up.seen.at(-1)!.tracestate).toBe('vendor=abc');
    // A later sampled request's spans arrive; the unsampled one's never do.
    await predict({ traceparent: `00-${'6'.repeat(32)}-${PARENT}-01` });
    await receiver.waitForTrace('6'.repeat(32), (s) => s.length >= 2);
    expect(receiver.trace('5'.repeat(32))).toEqual([]);
  });
});
