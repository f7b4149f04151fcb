import type { IncomingHttpHeaders } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import type { Clock } from '../../core/clock.js';
import { HttpError } from '../../core/errors.js';
import { AttributeKey, type Exchange } from '../exchange.js';
import { ForwardError } from '../forwarder.js';
import type { HeaderBag, Stage } from '../stage.js';
import { httpRoute } from './http-route.js';

/** Response header with the trace id of a sampled request (a Sluice extension), to find its trace in a backend. */
export const TRACE_ID_HEADER = 'x-sluice-trace-id';

/** Sluice's own span attributes (the OTel HTTP ones are written out below, as the stable conventions name them). */
export const ATTR = {
  namespace: 'sluice.namespace',
  service: 'sluice.inferenceservice',
  revision: 'sluice.revision',
  replica: 'sluice.replica',
  coldStart: 'sluice.cold_start',
  coldStartMs: 'sluice.cold_start_ms',
  holdWaitMs: 'sluice.hold.wait_ms',
} as const;

export const HOLD_SPAN = 'sluice.hold';

export interface TracingStageDeps {
  tracer: Tracer;
  propagator: TextMapPropagator;
  clock: Clock;
  /** Replicas in rotation for a revision: a hold that starts at zero is a cold start even when it fails. */
  activeReplicas?: (revisionKey: string) => number;
}

/** One request's spans. */
interface RequestSpans {
  server: Span;
  /** The server span is sampled: child spans are made and exported. Otherwise only its context is passed on. */
  sampled: boolean;
  /** The server span as a parent (sampled requests only). */
  serverContext: Context;
  hold: Span | null;
  holdStartedAt: number;
  holdAtZero: boolean;
  client: Span | null;
  attempts: number;
}

const SPANS = new AttributeKey<RequestSpans>('tracing');

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key],
};

const headerSetter: TextMapSetter<HeaderBag> = {
  set: (h, key, value) => {
    h[key] = value;
  },
};

/** The trace and span id of a request's server span, for log lines (undefined when tracing is off for it). */
export function traceIds(ex: Exchange): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const s = ex.get(SPANS);
  if (!s) return undefined;
  const c = s.server.spanContext();
  return { traceId: c.traceId, spanId: c.spanId, sampled: s.sampled };
}

/** `host[:port]` of a Host header, split (IPv6 literals keep their brackets off). */
function hostAndPort(host: string | undefined): { address: string; port: number | undefined } | null {
  if (!host) return null;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (!m) return null;
  return { address: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : undefined };
}

function errorType(err: unknown): string {
  if (err instanceof ForwardError) return err.code;
  if (err instanceof HttpError) return String(err.status);
  return err instanceof Error ? err.name : 'error';
}

/**
 * Distributed tracing (OpenTelemetry, W3C Trace Context), made by hand at the pipeline's hooks — no
 * auto-instrumentation. Per request:
 * - a SERVER span from arrival to the answer, continuing the client's `traceparent`/`tracestate` (or starting a
 *   trace), named `{method} {http.route}`, with the stable HTTP attributes and the InferenceService, namespace,
 *   revision and replica; ERROR only for a 5xx;
 * - a `sluice.hold` span while the activator holds the request, with the wait and whether it was a cold start;
 * - a CLIENT span per forward attempt, so a retry on another replica shows as a second one
 *   (`http.request.resend_count`); ERROR for a failed attempt or a 4xx/5xx answer;
 * - the replica gets a `traceparent` naming the attempt's span (the client's `tracestate` kept as it came).
 * An unsampled request costs one non-recording span: its context is passed on, nothing is exported.
 * Sampled answers from a replica carry `x-sluice-trace-id`.
 */
export class TracingStage implements Stage {
  readonly name = 'tracing';

  constructor(private readonly d: TracingStageDeps) {}

  onArrival(ex: Exchange): void {
    const req = ex.req;
    const parent = this.d.propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
    const method = req.method ?? 'GET';
    const server = this.d.tracer.startSpan(method, { kind: SpanKind.SERVER }, parent);
    const sampled = (server.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
    const spans: RequestSpans = {
      server,
      sampled,
      serverContext: sampled ? trace.setSpan(ROOT_CONTEXT, server) : ROOT_CONTEXT,
      hold: null,
      holdStartedAt: 0,
      holdAtZero: false,
      client: null,
      attempts: 0,
    };
    ex.set(SPANS, spans);
    if (!server.isRecording()) return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    server.setAttribute('http.request.method', method);
    server.setAttribute('url.scheme', 'http');
    server.setAttribute('url.path', q === -1 ? url : url.slice(0, q));
    if (q !== -1) server.setAttribute('url.query', url.slice(q + 1));
    const host = hostAndPort(req.headers.host);
    if (host) {
      server.setAttribute('server.address', host.address);
      if (host.port !== undefined) server.setAttribute('server.port', host.port);
    }
    server.setAttribute('network.protocol.version', req.httpVersion);
    if (req.socket.remoteAddress) server.setAttribute('client.address', req.socket.remoteAddress);
    const ua = req.headers['user-agent'];
    if (ua) server.setAttribute('user_agent.original', ua);
  }

  onHold(ex: Exchange): void {
    const s = ex.get(SPANS);
    if (!s?.sampled) return;
    s.holdStartedAt = this.d.clock.now();
    s.holdAtZero = ex.rev !== null && this.d.activeReplicas !== undefined && this.d.activeReplicas(ex.rev.key) === 0;
    s.hold = this.d.tracer.startSpan(HOLD_SPAN, { kind: SpanKind.INTERNAL }, s.serverContext);
  }

  onHoldEnd(ex: Exchange, err?: unknown): void {
    const s = ex.get(SPANS);
    const hold = s?.hold;
    if (!s || !hold) return;
    s.hold = null;
    if (err === undefined) {
      hold.setAttribute(ATTR.holdWaitMs, ex.heldMs);
      hold.setAttribute(ATTR.coldStart, ex.coldStart);
    } else {
      hold.setAttribute(ATTR.holdWaitMs, this.d.clock.now() - s.holdStartedAt);
      hold.setAttribute(ATTR.coldStart, s.holdAtZero);
      hold.setAttribute('error.type', errorType(err));
      if (!(err instanceof HttpError) || err.status >= 500)
        hold.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    hold.end();
  }

  /** Every traced exchange's (its context goes on, sampled or not). */
  wantsUpstreamHeaders(ex: Exchange): boolean {
    return ex.get(SPANS) !== undefined;
  }

  onUpstreamHeaders(ex: Exchange, headers: HeaderBag): void {
    const s = ex.get(SPANS);
    if (!s) return;
    // The client's trace headers are replaced by ours (an invalid traceparent's tracestate must not travel on).
    // Deleted only when the client sent them: a `delete` turns the header object into a slower dictionary-mode one.
    if (headers.traceparent !== undefined) delete headers.traceparent;
    if (headers.tracestate !== undefined) delete headers.tracestate;
    if (!s.sampled) {
      // The W3C propagator's inject, without the context it needs (the unsampled path is most requests').
      const c = s.server.spanContext();
      headers.traceparent = `00-${c.traceId}-${c.spanId}-00`;
      const state = c.traceState?.serialize();
      if (state) headers.tracestate = state;
      return;
    }
    s.attempts++;
    const method = ex.req.method ?? 'GET';
    const client = this.d.tracer.startSpan(method, { kind: SpanKind.CLIENT }, s.serverContext);
    s.client = client;
    client.setAttribute('http.request.method', method);
    const ep = ex.endpoint;
    if (ep) {
      const url = new URL(ep.url);
      client.setAttribute('server.address', url.hostname);
      client.setAttribute('server.port', Number(url.port) || (url.protocol === 'https:' ? 443 : 80));
      client.setAttribute('url.full', `${ep.url.replace(/\/+$/, '')}${ex.path}`);
      client.setAttribute(ATTR.replica, ep.id);
    }
    if (s.attempts > 1) client.setAttribute('http.request.resend_count', s.attempts - 1);
    this.d.propagator.inject(trace.setSpan(ROOT_CONTEXT, client), headers, headerSetter);
  }

  wantsResponseStart(ex: Exchange): boolean {
    return ex.get(SPANS)?.sampled === true;
  }

  onResponseStart(ex: Exchange, status: number, headers: HeaderBag): void {
    const s = ex.get(SPANS);
    if (!s?.sampled) return;
    s.client?.setAttribute('http.response.status_code', status);
    headers[TRACE_ID_HEADER] = s.server.spanContext().traceId;
  }

  onAttemptEnd(ex: Exchange, err?: unknown): void {
    const s = ex.get(SPANS);
    const client = s?.client;
    if (!s || !client) return;
    s.client = null;
    if (err !== undefined) {
      client.setAttribute('error.type', errorType(err));
      client.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    } else if (ex.status >= 400) {
      client.setAttribute('error.type', String(ex.status));
      client.setStatus({ code: SpanStatusCode.ERROR });
    }
    client.end();
  }

  onDone(ex: Exchange): void {
    const s = ex.get(SPANS);
    if (!s) return;
    // Hooks that did not run (a stage threw between them) leave nothing open.
    if (s.hold) this.onHoldEnd(ex, new Error('request ended while held'));
    if (s.client) this.onAttemptEnd(ex, new Error('request ended during the forward'));
    const server = s.server;
    if (server.isRecording()) {
      const route = ex.match ? httpRoute(ex.match.path) : null;
      if (route) {
        server.setAttribute('http.route', route);
        server.updateName(`${ex.req.method ?? 'GET'} ${route}`);
      }
      if (ex.status > 0) server.setAttribute('http.response.status_code', ex.status);
      const rev = ex.rev;
      if (rev) {
        server.setAttribute(ATTR.namespace, rev.namespace);
        server.setAttribute(ATTR.service, rev.service);
        server.setAttribute(ATTR.revision, rev.name);
      }
      if (ex.endpoint) server.setAttribute(ATTR.replica, ex.endpoint.id);
      if (ex.coldStart) server.setAttribute(ATTR.coldStartMs, ex.coldStartMs);
      if (ex.status >= 500) {
        server.setAttribute('error.type', String(ex.status));
        server.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    server.end();
  }
}
