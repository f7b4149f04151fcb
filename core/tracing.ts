import {
  createNoopMeter,
  type Counter as OtelCounter,
  type Meter,
  type MeterProvider,
  type ObservableResult,
  type ObservableUpDownCounter,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type BufferConfig,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from './log.js';
import type { SluiceMetrics } from './metrics.js';
import type { SamplerName, TracingSettings } from './tracing-settings.js';
import { SLUICE_VERSION as VERSION } from './version.js';

/** Spans per export request (the SDK's default). */
const BATCH_SIZE = 512;
/** Time a span waits at most for its batch to fill (the SDK's default is 5 s; a shorter one keeps the queue small). */
const SCHEDULE_DELAY_MS = 1000;
/** At most one warning about failing exports per this period (the count is in the metric). */
const WARN_EVERY_MS = 60_000;

// The SDK's self-observability instruments (semantic conventions, otel.sdk.*), read by our meter below.
const PROCESSED = 'otel.sdk.processor.span.processed';
const QUEUE_SIZE = 'otel.sdk.processor.span.queue.size';

/** What the gateway's tracing stage needs: a tracer, the W3C propagator, and a way to stop. */
export interface Tracing {
  readonly tracer: Tracer;
  readonly propagator: W3CTraceContextPropagator;
  readonly settings: TracingSettings;
  /** Exports what is queued, then stops; never rejects, never takes longer than `deadlineMs`. */
  shutdown(deadlineMs: number): Promise<void>;
}

export function sampler(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/** The Prometheus side of the span pipeline, on the process's registry. */
class TraceExportMetrics {
  readonly exported: Counter;
  readonly dropped: Counter<'reason'>;
  private queueSize: (() => number) | null = null;

  constructor(metrics: SluiceMetrics) {
    const registers = [metrics.registry];
    this.exported = new Counter({ name: 'sluice_trace_spans_exported_total', help: 'Spans the OTLP collector accepted.', registers });
    this.dropped = new Counter({
      name: 'sluice_trace_spans_dropped_total',
      help: 'Spans lost: reason="queue_full" (the export queue, tracingMaxQueueSize, was full: collector down or slow), "export_failed" (the collector refused, failed or timed out).',
      labelNames: ['reason'],
      registers,
    });
    this.dropped.inc({ reason: 'queue_full' }, 0);
    this.dropped.inc({ reason: 'export_failed' }, 0);
    const self = this;
    new Gauge({
      name: 'sluice_trace_export_queue_spans',
      help: 'Finished spans waiting for export (bounded by tracingMaxQueueSize).',
      registers,
      collect() {
        this.set(self.queueSize?.() ?? 0);
      },
    });
  }

  /**
   * A MeterProvider for the BatchSpanProcessor's own instruments: its processed-spans counter (dropped with
   * `error.type=queue_full`, failed exports with another error type, exported without one) and its queue size.
   * Everything else is a no-op.
   */
  meterProvider(): MeterProvider {
    const noop = createNoopMeter();
    const processed: OtelCounter = {
      add: (n, attrs) => {
        const error = attrs?.['error.type'];
        if (error === undefined) this.exported.inc(n);
        else this.dropped.inc({ reason: error === 'queue_full' ? 'queue_full' : 'export_failed' }, n);
      },
    };
    const queue: ObservableUpDownCounter = {
      addCallback: (cb) => {
        this.queueSize = () => {
          let size = 0;
          const result: ObservableResult = { observe: (v) => void (size = v) };
          void cb(result);
          return size;
        };
      },
      removeCallback: () => {
        this.queueSize = null;
      },
    };
    const meter: Meter = {
      createGauge: (n, o) => noop.createGauge(n, o),
      createHistogram: (n, o) => noop.createHistogram(n, o),
      createCounter: (n, o) => (n === PROCESSED ? processed : noop.createCounter(n, o)),
      createUpDownCounter: (n, o) => noop.createUpDownCounter(n, o),
      createObservableGauge: (n, o) => noop.createObservableGauge(n, o),
      createObservableCounter: (n, o) => noop.createObservableCounter(n, o),
      createObservableUpDownCounter: (n, o) => (n === QUEUE_SIZE ? queue : noop.createObservableUpDownCounter(n, o)),
      addBatchObservableCallback: () => undefined,
      removeBatchObservableCallback: () => undefined,
    };
    return { getMeter: () => meter };
  }
}

/** Passes batches to the OTLP exporter and logs failures, at most one warning a minute. */
class LoggingExporter implements SpanExporter {
  private lastWarn = -Infinity;
  private failedSince = 0;

  constructor(
    private readonly inner: SpanExporter,
    private readonly logger: Logger,
    private readonly endpoint: string,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        this.failedSince += spans.length;
        const now = Date.now();
        if (now - this.lastWarn >= WARN_EVERY_MS) {
          this.lastWarn = now;
          this.logger.warn(
            { endpoint: this.endpoint, spans: this.failedSince, err: result.error?.message },
            'span export failed; those spans are dropped (sluice_trace_spans_dropped_total)',
          );
          this.failedSince = 0;
        }
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Starts the span pipeline: a tracer provider (not registered globally: the gateway's stage holds the tracer) with
 * the configured sampler, a BatchSpanProcessor with a bounded queue, and the OTLP/HTTP protobuf exporter with a
 * timeout. Nothing here is on a request's path but `span.end()` pushing to the queue: exports run on timers, a
 * full queue drops (and counts) spans, a failed export is counted and logged, never thrown.
 */
export function startTracing(settings: TracingSettings, deps: { metrics: SluiceMetrics; logger: Logger }): Tracing {
  const logger = deps.logger.child({ role: 'tracing' });
  const exportMetrics = new TraceExportMetrics(deps.metrics);
  const meterProvider = exportMetrics.meterProvider();
  const batches = Math.ceil(settings.maxQueueSize / BATCH_SIZE);
  const exporter = new OTLPTraceExporter({
    url: settings.endpoint,
    headers: settings.headers,
    timeoutMillis: settings.exportTimeoutMs,
    // A flush at shutdown sends every queued batch at once: the default of 30 would refuse some ("Concurrent
    // export limit reached") when the queue is larger than 30 batches.
    concurrencyLimit: Math.max(30, batches + 2),
  });
  const processor = new BatchSpanProcessor(new LoggingExporter(exporter, logger, settings.endpoint), {
    maxQueueSize: settings.maxQueueSize,
    maxExportBatchSize: Math.min(BATCH_SIZE, settings.maxQueueSize),
    scheduledDelayMillis: SCHEDULE_DELAY_MS,
    exportTimeoutMillis: settings.exportTimeoutMs,
    // Read by the SDK's BatchSpanProcessor (its self-observability), though the shim's config type omits it.
    selfObsMeterProvider: meterProvider,
  } as BufferConfig);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      ...settings.resourceAttributes,
      [ATTR_SERVICE_NAME]: settings.serviceName,
      [ATTR_SERVICE_VERSION]: VERSION,
    }),
    sampler: sampler(settings.sampler, settings.ratio),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('sluice', VERSION);
  logger.info({ endpoint: settings.endpoint, sampler: settings.sampler, ratio: settings.ratio }, 'tracing on');
  let stopping: Promise<void> | null = null;
  return {
    tracer,
    propagator: new W3CTraceContextPropagator(),
    settings,
    shutdown(deadlineMs) {
      stopping ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn({ deadlineMs }, 'tracing: spans still queued at the shutdown deadline are dropped');
          resolve();
        }, deadlineMs);
        timer.unref();
        provider.shutdown().then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          (err: unknown) => {
            clearTimeout(timer);
            logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'tracing: the last export at shutdown failed');
            resolve();
          },
        );
      });
      return stopping;
    },
  };
}
