/**
 * The span pipeline alone (core/tracing.ts) against the in-test OTLP/HTTP receiver: a graceful stop exports every
 * queued span (more batches than the OTLP exporter's default concurrency limit of 30 would allow at once), and the
 * Prometheus counters agree with what the collector got.
 */
import { describe, expect, it } from 'vitest';
import { SERVE_DEFAULTS } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { SluiceMetrics } from '../../core/metrics.js';
import { startTracing } from '../../core/tracing.js';
import { resolveTracingSettings } from '../../core/tracing-settings.js';
import { metricValue } from '../support/metrics-text.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';

describe('span export', () => {
  it('a graceful stop flushes a full queue of 40 batches (more than the exporter’s default 30 at once); exported and dropped counters match the collector', async () => {
    const receiver = await OtlpReceiver.start();
    const metrics = new SluiceMetrics();
    const settings = resolveTracingSettings({ ...SERVE_DEFAULTS, tracingEndpoint: receiver.url, tracingSampler: 'always_on', tracingMaxQueueSize: 40 * 512 }, {})!;
    const tracing = startTracing(settings, { metrics, logger: silentLogger() });
    // One synchronous burst: the first 512 go out as a batch at once (the processor exports a full batch without
    // waiting), the next 40 × 512 fill the queue, and the last 100 are dropped.
    const total = 41 * 512 + 100;
    for (let i = 0; i < total; i++) tracing.tracer.startSpan(`s${i}`).end();
    await tracing.shutdown(20_000);
    const text = await metrics.registry.metrics();
    const exported = metricValue(text, 'sluice_trace_spans_exported_total')!;
    const queueFull = metricValue(text, 'sluice_trace_spans_dropped_total', { reason: 'queue_full' })!;
    expect(metricValue(text, 'sluice_trace_spans_dropped_total', { reason: 'export_failed' })).toBe(0);
    expect(queueFull).toBe(100);
    expect(exported).toBe(total - 100);
    expect(receiver.spans.length).toBe(exported);
    expect(new Set(receiver.spans.map((s) => s.resource['service.name']))).toEqual(new Set(['sluice']));
    await receiver.close();
  }, 60_000);
});
