/**
 * Request/response logging (KServe's `logger`): for a revision whose component has `logger: {url, mode}`, every
 * request it gets produces a request event and a response event (by mode), CloudEvents that share the request's
 * id. Unlike KServe's agent, every outcome is logged (the response event has `statuscode`, and `errorkind` when
 * the gateway failed or refused it, the client went away or the answer was cut), the response event carries the
 * response's content type, and bodies are teed as they stream (nothing is buffered on the client's path), kept up
 * to a cap (`truncated`, `payloadsize`). Events are handed to the delivery queue when the request is done; the
 * request never waits for them (delivery.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../core/clock.js';
import type { RevisionLogger } from '../../data-plane.js';
import { AttributeKey, type Exchange } from '../../exchange.js';
import type { HeaderBag, Stage } from '../../stage.js';
import { REQUEST_TYPE, RESPONSE_TYPE, type LogEvent } from './event.js';

/** Where the stage hands its events (the delivery queue): never blocks, returns false when it dropped the event. */
export interface EventSink {
  enqueue(ev: LogEvent): boolean;
}

export interface RequestLoggingDeps {
  clock: Clock;
  events: EventSink;
  /** Payload bytes kept per event; past it the payload is cut and the event says `truncated`. */
  maxPayloadBytes: number;
}

/** A body as it passes: the first `cap` bytes kept (by reference), every byte counted. */
class Payload {
  readonly chunks: Buffer[] = [];
  kept = 0;
  seen = 0;

  constructor(private readonly cap: number) {}

  add(chunk: Buffer): void {
    this.seen += chunk.length;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    const piece = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(piece);
    this.kept += piece.length;
  }
}

/** What one logged request has seen so far. */
class Capture {
  readonly request: Payload;
  readonly response: Payload;
  /** The replica's status and content type, once its response began (0: it never did). */
  status = 0;
  contentType: string | null = null;

  constructor(readonly logger: RevisionLogger, cap: number) {
    this.request = new Payload(logger.mode === 'response' ? 0 : cap);
    this.response = new Payload(logger.mode === 'request' ? 0 : cap);
  }
}

const CAPTURE = new AttributeKey<Capture>('request-logging');
/** Ids taken from the client: printable ASCII without `%` and `"` (safe in a header as is), at most 200. */
const CLIENT_ID = /^[\x21\x23-\x24\x26-\x7e]{1,200}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export class RequestLogging implements Stage {
  readonly name = 'request-logging';

  constructor(private readonly d: RequestLoggingDeps) {}

  onAdmitted(ex: Exchange): void {
    const logger = ex.rev!.logger;
    if (logger === undefined) return;
    ex.set(CAPTURE, new Capture(logger, this.d.maxPayloadBytes));
    ex.teeBody = true;
  }

  onRequestBody(ex: Exchange, chunk: Buffer): void {
    ex.get(CAPTURE)?.request.add(chunk);
  }

  wantsResponseStart(ex: Exchange): boolean {
    return ex.get(CAPTURE) !== undefined;
  }

  onResponseStart(ex: Exchange, status: number, headers: HeaderBag): void {
    const c = ex.get(CAPTURE);
    if (c === undefined) return;
    c.status = status;
    c.contentType = headerText(headers['content-type']);
  }

  onResponseBody(ex: Exchange, chunk: Buffer): void {
    ex.get(CAPTURE)?.response.add(chunk);
  }

  onDone(ex: Exchange): void {
    const rev = ex.rev;
    const logger = rev?.logger;
    if (rev === null || logger === undefined) return;
    // Refused by a stage after routing: never admitted, so nothing was captured; its events have no payloads.
    const c = ex.get(CAPTURE) ?? new Capture(logger, 0);
    const req = ex.req;
    const id = requestId(req.headers['ce-id']) ?? requestId(req.headers['x-request-id']) ?? randomUUID();
    const common: Record<string, string> = {
      inferenceservicename: rev.service,
      namespace: rev.namespace,
      component: logger.component,
      endpoint: endpointOf(ex),
      revision: rev.name,
    };
    const tp = req.headers['traceparent'];
    if (typeof tp === 'string' && TRACEPARENT.test(tp)) common['traceparent'] = tp;
    const { events } = this.d;
    if (logger.mode !== 'response') {
      const declared = Number(req.headers['content-length'] ?? 0) || 0;
      const ext = { ...common, ...payloadExtensions(c.request) };
      if (c.request.seen < declared || (declared === 0 && req.headers['transfer-encoding'] !== undefined && !req.readableEnded)) ext['incomplete'] = 'true';
      events.enqueue({
        sink: logger.url,
        id,
        type: REQUEST_TYPE,
        source: rev.name,
        time: ex.arrival,
        contentType: payloadType(c.request, c.request.seen > 0 ? (headerText(req.headers['content-type']) ?? 'application/octet-stream') : null, ext),
        chunks: c.request.chunks,
        size: c.request.kept,
        extensions: ext,
      });
    }
    if (logger.mode !== 'request') {
      const ext: Record<string, string> = { ...common };
      const f = ex.failure;
      let chunks: Buffer[] = c.response.chunks;
      let size = c.response.kept;
      let contentType = c.status !== 0 ? (c.contentType ?? (c.response.seen > 0 ? 'application/octet-stream' : null)) : null;
      if (c.status !== 0) {
        // The replica answered: its status is what the client got, even when the answer was cut afterwards.
        ext['statuscode'] = String(c.status);
        Object.assign(ext, payloadExtensions(c.response));
        if (f !== null) {
          ext['errorkind'] = ex.signal.aborted || f.kind === 'aborted' ? 'aborted' : 'response_cut';
          ext['incomplete'] = 'true';
        }
      } else {
        ext['statuscode'] = String(ex.status || 499);
        if (f !== null) ext['errorkind'] = ex.status === 499 ? 'aborted' : f.kind;
        if (f !== null && ex.status !== 499 && ex.status !== 0) {
          // The gateway's own answer (the one error writer's body).
          const body = Buffer.from(JSON.stringify({ error: f.message }));
          chunks = [body];
          size = body.length;
          contentType = 'application/json';
        }
      }
      ext['latencyms'] = (this.d.clock.monotonic() - ex.startedAt).toFixed(3);
      contentType = payloadType(c.response, contentType, ext);
      events.enqueue({ sink: logger.url, id, type: RESPONSE_TYPE, source: rev.name, time: this.d.clock.now(), contentType, chunks, size, extensions: ext });
    }
  }
}

/** The payload's size as it passed, and `truncated` when only the first bytes were kept. */
function payloadExtensions(p: Payload): Record<string, string> {
  return p.seen > p.kept ? { payloadsize: String(p.seen), truncated: 'true' } : { payloadsize: String(p.seen) };
}

/**
 * The content type an event declares for its payload. A cut payload no longer is what its type says (half a JSON
 * document does not parse): it is sent as `application/octet-stream`, its own type in `payloadcontenttype`.
 */
function payloadType(p: Payload, type: string | null, ext: Record<string, string>): string | null {
  if (type === null || p.seen <= p.kept) return type;
  ext['payloadcontenttype'] = type;
  return 'application/octet-stream';
}

/** KServe's endpoint: `canary` for the latest revision while a split sends traffic elsewhere too, else `default`. */
function endpointOf(ex: Exchange): string {
  const targets = ex.match?.route.targets;
  if (!targets) return 'default';
  let taking = 0;
  let latest = false;
  for (const t of targets) {
    if (t.percent > 0) taking++;
    if (t.revisionKey === ex.rev!.key && t.latestRevision && t.percent > 0) latest = true;
  }
  return latest && taking > 1 ? 'canary' : 'default';
}

function requestId(v: string | string[] | undefined): string | null {
  return typeof v === 'string' && CLIENT_ID.test(v) ? v : null;
}

function headerText(v: string | string[] | number | undefined): string | null {
  if (v === undefined) return null;
  const s = Array.isArray(v) ? v[0] : String(v);
  // Printable ASCII only: it is sent as a header again.
  return s !== undefined && /^[\x20-\x7e]{1,256}$/.test(s) ? s : null;
}
