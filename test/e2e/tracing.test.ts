/**
 * Tracing in a whole embedded Sluice (gateway, activator, autoscaler, local backend with demo runtime processes),
 * configured the way a user does it (settings and OTEL_* variables), exporting to an in-test OTLP/HTTP receiver
 * that decodes the protobuf with the official proto definitions. Also: a collector that is dead or hung never
 * holds a request up, and what it costs in spans is counted.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { HOLD_SPAN, TRACE_ID_HEADER } from '../../gateway/stages/tracing.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';
import { waitUntil } from '../support/wait.js';

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };
const BODY = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });

const predict = (s: Embedded, model: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${s.dataUrl}/v1/models/${model}:predict`, { method: 'POST', headers, body: BODY });

const metrics = async (s: Embedded): Promise<string> => (await fetch(`${s.metricsUrl}/metrics`)).text();

const dropped = async (s: Embedded): Promise<number> => {
  const text = await metrics(s);
  return (metricValue(text, 'sluice_trace_spans_dropped_total', { reason: 'queue_full' }) ?? 0) + (metricValue(text, 'sluice_trace_spans_dropped_total', { reason: 'export_failed' }) ?? 0);
};

describe('tracing in embedded Sluice', () => {
  let receiver: OtlpReceiver;
  let sluice: Embedded;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const dir = configFolder({ 'cold.yaml': demoService('cold', { annotations: ZERO }), 'warm.yaml': demoService('warm', { predictor: '    minReplicas: 1\n' }) });
    // The standard OpenTelemetry variables, as an operator sets them for any SDK.
    sluice = await startTestSluice(dir, {}, undefined, {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER: 'parentbased_always_on', OTEL_SERVICE_NAME: 'edge-gateway' },
    });
  });
  afterAll(async () => {
    await sluice?.close();
    await receiver?.close();
  });

  it('a cold start shows as a sluice.hold span with cold-start=true, between the server span and the attempt', async () => {
    const traceId = 'c01d'.repeat(8);
    const res = await predict(sluice, 'cold', { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(res.status).toBe(200);
    expect(res.headers.get(TRACE_ID_HEADER)).toBe(traceId);
    const coldHeader = Number(res.headers.get('x-sluice-cold-start'));
    expect(coldHeader).toBeGreaterThan(0);
    const spans = await receiver.waitForTrace(traceId, (s) => s.some((x) => x.kind === 'SPAN_KIND_SERVER'));
    const server = spans.find((s) => s.kind === 'SPAN_KIND_SERVER')!;
    const hold = spans.find((s) => s.name === HOLD_SPAN)!;
    const client = spans.find((s) => s.kind === 'SPAN_KIND_CLIENT')!;
    expect(server.resource['service.name']).toBe('edge-gateway');
    expect(server.parentSpanId).toBe('00f067aa0ba902b7');
    expect(server.attributes).toMatchObject({ 'sluice.inferenceservice': 'cold', 'sluice.revision': 'cold-predictor-00001', 'http.response.status_code': 200 });
    expect(hold.parentSpanId).toBe(server.spanId);
    expect(hold.attributes['sluice.cold_start']).toBe(true);
    const waited = hold.attributes['sluice.hold.wait_ms'] as number;
    expect(waited).toBeGreaterThan(0);
    // The hold is part of what the client waited for (x-sluice-cold-start: arrival to the response's start).
    expect(waited).toBeLessThanOrEqual(coldHeader);
    expect(server.attributes['sluice.cold_start_ms']).toBe(waited);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(client.attributes['sluice.replica']).toBe(server.attributes['sluice.replica']);
  });

  it('a warm request has no hold span; the exported-spans counter rises', async () => {
    const traceId = 'aa11'.repeat(8);
    await waitUntil('warm to be ready', () => sluice.backend.counts('default/warm-predictor-00001').ready > 0, 30_000);
    const res = await predict(sluice, 'warm', { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(res.status).toBe(200);
    const spans = await receiver.waitForTrace(traceId, (s) => s.length >= 2);
    expect(spans.map((s) => s.kind).sort()).toEqual(['SPAN_KIND_CLIENT', 'SPAN_KIND_SERVER']);
    await waitUntil('exported spans counted', async () => (metricValue(await metrics(sluice), 'sluice_trace_spans_exported_total') ?? 0) >= 2);
  });
});

describe('tracing settings in embedded Sluice', () => {
  it('off without an endpoint: nothing of tracing runs (no tracing metrics, no trace id header)', async () => {
    const dir = configFolder({ 'warm.yaml': demoService('warm', { predictor: '    minReplicas: 1\n' }) });
    const s = await startTestSluice(dir, {}, undefined, { env: {} });
    try {
      await waitUntil('warm to be ready', () => s.backend.counts('default/warm-predictor-00001').ready > 0, 30_000);
      const res = await predict(s, 'warm', { traceparent: `00-${'ab'.repeat(16)}-00f067aa0ba902b7-01` });
      expect(res.status).toBe(200);
      expect(res.headers.get(TRACE_ID_HEADER)).toBeNull();
      expect(await metrics(s)).not.toMatch(/sluice_trace_/);
    } finally {
      await s.close();
    }
  });

  it('sampler always_off exports nothing, even for a sampled incoming parent', async () => {
    const receiver = await OtlpReceiver.start();
    const dir = configFolder({ 'warm.yaml': demoService('warm', { predictor: '    minReplicas: 1\n' }) });
    const s = await startTestSluice(dir, { tracingEndpoint: receiver.url, tracingSampler: 'always_off' }, undefined, { env: {} });
    try {
      await waitUntil('warm to be ready', () => s.backend.counts('default/warm-predictor-00001').ready > 0, 30_000);
      for (let i = 0; i < 5; i++) {
        const res = await predict(s, 'warm', { traceparent: `00-${'cd'.repeat(16)}-00f067aa0ba902b7-01` });
        expect(res.status).toBe(200);
        expect(res.headers.get(TRACE_ID_HEADER)).toBeNull();
      }
    } finally {
      // A graceful stop flushes whatever was queued: nothing was.
      await s.close();
    }
    expect(receiver.requests).toBe(0);
    expect(receiver.spans).toEqual([]);
    await receiver.close();
  });

  it('refuses a protocol it cannot speak, naming the variable', async () => {
    await expect(
      startTestSluice(null, {}, undefined, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' } }),
    ).rejects.toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc: Sluice exports OTLP over HTTP with protobuf bodies only/);
  });
});

describe('a collector that is down or stuck never holds up inference', () => {
  const run = async (endpoint: string, whileStuck: () => void): Promise<Embedded> => {
    const dir = configFolder({ 'warm.yaml': demoService('warm', { predictor: '    minReplicas: 1\n' }) });
    const s = await startTestSluice(
      dir,
      // A tiny queue, every request sampled, and an export timeout far longer than the test: a request that waited
      // for an export would not finish in time.
      { tracingEndpoint: endpoint, tracingSampler: 'always_on', tracingMaxQueueSize: 4, tracingExportTimeoutSeconds: 60 },
      undefined,
      { env: {} },
    );
    await waitUntil('warm to be ready', () => s.backend.counts('default/warm-predictor-00001').ready > 0, 30_000);
    for (let i = 0; i < 40; i++) {
      const res = await predict(s, 'warm');
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    whileStuck();
    await waitUntil('spans to be dropped and counted', async () => (await dropped(s)) > 0, 10_000);
    return s;
  };

  it('hung collector: every request is answered while the first export is still unanswered; spans beyond the queue are dropped and counted; shutdown is bounded', async () => {
    const receiver = await OtlpReceiver.start('hang');
    const s = await run(`${receiver.url}/v1/traces`, () => {
      // The collector took an export and has not answered it, yet all 40 requests were served.
      expect(receiver.requests).toBeGreaterThan(0);
      expect(receiver.spans).toEqual([]);
    });
    const text = await metrics(s);
    expect(metricValue(text, 'sluice_trace_spans_dropped_total', { reason: 'queue_full' })).toBeGreaterThan(0);
    expect(metricValue(text, 'sluice_trace_export_queue_spans')).toBeLessThanOrEqual(4);
    // The graceful stop gives the last export a bounded time (5 s), not the 60 s export timeout.
    await s.close();
    await receiver.close();
  }, 40_000);

  it('dead collector (nothing listens): every request is answered; the spans it cannot take are dropped and counted', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const s = await run(`http://127.0.0.1:${port}/v1/traces`, () => undefined);
    await s.close();
  }, 40_000);
});
