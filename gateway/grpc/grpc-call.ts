import type { ClientHttp2Session, IncomingHttpHeaders, IncomingHttpStatusHeader, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { constants } from 'node:http2';
import type { Clock } from '../../core/clock.js';
import { ForwardError, type ForwardObserver } from '../forwarder.js';
import { leanRequest } from './lean-request.js';
import { encodeGrpcMessage, formatGrpcTimeout, FrameScanner, GrpcStatus } from './grpc-wire.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, HTTP2_FLAG_END_STREAM } = { ...constants, HTTP2_FLAG_END_STREAM: 0x1 };

/** Headers HTTP/2 forbids or that belong to one hop only. */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/**
 * The client's side of one gRPC call: the stream and how its answer ends. The gateway answers through it
 * (trailers-only when nothing was sent yet, else trailers after the messages already passed), and it remembers
 * the gRPC status the client got, for accounting.
 */
export class GrpcCallAnswer {
  /** The gRPC status sent to the client (or -1 while none was). */
  status = -1;
  /** The replica's connection died under the call (the replica should leave the rotation until probed). */
  lost = false;
  private trailers: OutgoingHttpHeaders | null = null;
  private streaming = false;

  constructor(readonly stream: ServerHttp2Stream) {
    stream.on('wantTrailers', () => {
      const t = this.trailers ?? { 'grpc-status': String(GrpcStatus.INTERNAL), 'grpc-message': 'the replica ended the call without a gRPC status' };
      if (this.status === -1) this.status = Number(t['grpc-status']);
      stream.sendTrailers(t);
    });
  }

  get done(): boolean {
    return this.status !== -1 || this.stream.destroyed;
  }

  /** Starts the answer with the replica's headers; the messages follow, then trailers (`trailers`, `fail`). */
  respond(headers: OutgoingHttpHeaders): void {
    this.streaming = true;
    this.stream.respond(headers, { waitForTrailers: true });
  }

  /** The replica's trailers, sent when its messages have passed. */
  setTrailers(trailers: OutgoingHttpHeaders): void {
    this.trailers = trailers;
  }

  /** A trailers-only answer passed through from the replica. */
  respondTrailersOnly(headers: OutgoingHttpHeaders, status: number): void {
    this.status = status;
    this.stream.respond(headers, { endStream: true });
    this.stream.resume();
  }

  /**
   * Ends the call with `code` and `message`: trailers-only when no header went out, else trailers after what
   * passed. Whatever the client still sends is read and dropped.
   */
  fail(code: number, message: string): void {
    if (this.status !== -1 || this.stream.destroyed || this.stream.closed) return;
    const t = { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) };
    this.status = code;
    if (!this.stream.headersSent) {
      this.stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...t }, { endStream: true });
    } else if (this.streaming) {
      this.trailers = t;
      if (!this.stream.writableEnded) this.stream.end();
    } else {
      this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    }
    this.stream.resume();
  }

  /** A message the gateway answers itself: headers, one message frame, trailers with OK. */
  message(frame: Buffer, extra: OutgoingHttpHeaders = {}): void {
    this.status = GrpcStatus.OK;
    this.trailers = { 'grpc-status': '0' };
    this.streaming = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...extra }, { waitForTrailers: true });
    this.stream.end(frame);
    this.stream.resume();
  }
}

export interface GrpcForwardOptions {
  clock: Clock;
  /** The client's request headers (pseudo-headers included; they are replaced). */
  headers: IncomingHttpHeaders;
  path: string;
  /** Replica id and gRPC address, for messages. */
  replica: string;
  /** Absolute time (clock ms) of the call's deadline. */
  deadlineAt: number;
  /** The client sent `grpc-timeout`: it bounds the whole call (sent upstream as what is left of it). */
  clientDeadline: boolean;
  /** The revision's timeout in seconds (bounds the wait for the response headers without a client deadline). */
  revisionTimeoutSeconds: number;
  maxMessageBytes: number;
  observer?: ForwardObserver;
  /**
   * Keeps the answer (a model probe's, gateway/grpc/grpc-probes.ts): `keep` gets the response messages when the
   * call ends with grpc-status 0, uncompressed and within `maxBytes`.
   */
  keepAnswer?: { maxBytes: number; keep(frame: Buffer): void };
}

/**
 * Forwards one gRPC call on `session` and resolves with the gRPC status the client got, once its stream is
 * closed. Request and response messages are relayed chunk by chunk, each side paused while the other's write
 * buffer is full (so HTTP/2 flow control holds each side to the other's pace; a direct relay instead of
 * `pipe()`, which costs a dozen listeners per call),
 * headers, metadata and trailers pass as they are; a trailers-only answer passes as one. A client that resets
 * its stream resets the replica's (CANCEL), and a replica that cancels cancels the client's; a replica lost
 * mid-call ends the call with UNAVAILABLE. Rejects (with a retryable ForwardError) only when the stream could
 * not be opened, before anything was sent.
 */
export function forwardCall(session: ClientHttp2Session, answer: GrpcCallAnswer, o: GrpcForwardOptions): Promise<number> {
  const client = answer.stream;
  const h: OutgoingHttpHeaders = {};
  const drop = o.observer?.upstreamDrop?.names;
  for (const k in o.headers) {
    if (k.charCodeAt(0) === 58 /* : */ || HOP_BY_HOP.has(k) || (drop !== undefined && drop.has(k))) continue;
    h[k] = o.headers[k];
  }
  const authority = o.headers[':authority'];
  if (authority) h['x-forwarded-host'] = authority;
  h[':method'] = 'POST';
  h[':path'] = o.path;
  if (o.clientDeadline) h['grpc-timeout'] = formatGrpcTimeout(o.deadlineAt - o.clock.now());
  o.observer?.upstreamHeaders(h as Record<string, string | string[]>);
  let upstream: ReturnType<ClientHttp2Session['request']>;
  try {
    // Not session.request() itself: on Node 20 it would keep each call's objects alive past scavenges (lean-request.ts).
    upstream = leanRequest(session, h, { endStream: false });
  } catch (err) {
    return Promise.reject(new ForwardError(502, true, 'SESSION_CLOSED', `replica ${o.replica}: ${(err as Error).message}`, false));
  }
  return new Promise<number>((resolve) => {
    let responded = false;
    const scanner = new FrameScanner(o.maxMessageBytes);
    const timer = o.clock.setTimeout(
      () => {
        if (answer.done) return;
        upstream.close(NGHTTP2_CANCEL);
        answer.fail(
          GrpcStatus.DEADLINE_EXCEEDED,
          o.clientDeadline
            ? `deadline exceeded: the call did not finish within its grpc-timeout (replica ${o.replica})`
            : `replica ${o.replica} sent no response within the revision's timeout (${o.revisionTimeoutSeconds} s)`,
        );
      },
      Math.max(1, o.deadlineAt - o.clock.now()),
    );
    // Request messages: scanned for the size limit, written upstream; the client waits while upstream's buffer is full.
    let requestOpen = true;
    const resumeClient = (): void => {
      if (requestOpen) client.resume();
    };
    const onRequestData = (chunk: Buffer): void => {
      const over = scanner.scan(chunk);
      if (over >= 0) {
        stopRequest();
        upstream.close(NGHTTP2_CANCEL);
        answer.fail(GrpcStatus.RESOURCE_EXHAUSTED, `request message of ${over} bytes is larger than the gateway accepts (limit grpcMaxMessageBytes=${o.maxMessageBytes})`);
        return;
      }
      if (upstream.destroyed || upstream.writableEnded) return;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', resumeClient);
      }
    };
    const onRequestEnd = (): void => {
      stopRequest();
      if (!upstream.destroyed && !upstream.writableEnded) upstream.end();
    };
    const stopRequest = (): void => {
      requestOpen = false;
      client.off('data', onRequestData);
      client.off('end', onRequestEnd);
    };
    client.on('data', onRequestData);
    client.once('end', onRequestEnd);
    // A stream paused by the gateway's read of its first message flows again (its bytes were put back).
    client.resume();
    // Response messages: written to the client; the replica waits while the client's buffer is full.
    const resumeUpstream = (): void => {
      upstream.resume();
    };
    const onResponseData = (chunk: Buffer): void => {
      if (client.destroyed) return;
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', resumeUpstream);
      }
    };
    const onResponseEnd = (): void => {
      if (!client.destroyed && !client.writableEnded) client.end();
    };

    upstream.on('response', (headers: IncomingHttpHeaders & IncomingHttpStatusHeader, flags: number) => {
      responded = true;
      if (!o.clientDeadline) o.clock.clearTimeout(timer);
      if (answer.done) return;
      const out: OutgoingHttpHeaders = {};
      for (const k in headers) if (k.charCodeAt(0) !== 58 && !HOP_BY_HOP.has(k)) out[k] = headers[k];
      const status = headers[':status'] ?? 200;
      o.observer?.responseStart(status, out as Record<string, string | string[]>);
      out[':status'] = status;
      if (flags & HTTP2_FLAG_END_STREAM) {
        const s = headers['grpc-status'];
        answer.respondTrailersOnly(out, s === undefined ? (status === 200 ? GrpcStatus.UNKNOWN : GrpcStatus.UNAVAILABLE) : Number(s));
        return;
      }
      answer.respond(out);
      upstream.on('data', onResponseData);
      upstream.once('end', onResponseEnd);
    });
    if (o.keepAnswer) keepAnswer(upstream, o.keepAnswer);
    upstream.on('trailers', (trailers: IncomingHttpHeaders) => {
      const t: OutgoingHttpHeaders = {};
      for (const k in trailers) if (k.charCodeAt(0) !== 58) t[k] = trailers[k];
      answer.setTrailers(t);
    });
    upstream.on('error', () => {
      // Reported by 'close' (rstCode) below.
    });
    upstream.on('close', () => {
      o.clock.clearTimeout(timer);
      if (requestOpen) {
        // Nothing more goes upstream: what the client still sends is read and dropped.
        stopRequest();
        client.resume();
      }
      if (answer.done) return;
      const code = upstream.rstCode ?? NGHTTP2_NO_ERROR;
      if (code === NGHTTP2_NO_ERROR && upstream.readableEnded) return;
      // Node resets a stream with CANCEL when its connection dies too: only a live session's reset is the replica's.
      const lost = session.destroyed;
      answer.lost = lost;
      if (code === NGHTTP2_CANCEL && responded && !lost) {
        // The replica cancelled the call: so is the client's.
        answer.status = GrpcStatus.CANCELLED;
        client.close(NGHTTP2_CANCEL);
        return;
      }
      upstream.off('data', onResponseData);
      answer.fail(
        GrpcStatus.UNAVAILABLE,
        code === NGHTTP2_NO_ERROR
          ? `replica ${o.replica} closed the call before it ended`
          : lost
            ? `replica ${o.replica} was lost mid-call: its connection closed`
            : `replica ${o.replica} reset the call (HTTP/2 error code ${code})`,
      );
    });
    client.on('close', () => {
      o.clock.clearTimeout(timer);
      if (!upstream.closed) upstream.close(NGHTTP2_CANCEL);
      if (answer.status === -1) answer.status = GrpcStatus.CANCELLED;
      resolve(answer.status);
    });
  });
}

/** Collects what `upstream` answers, and hands it to `k.keep` when the call ends OK (see GrpcForwardOptions). */
function keepAnswer(upstream: ReturnType<ClientHttp2Session['request']>, k: NonNullable<GrpcForwardOptions['keepAnswer']>): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let usable = true;
  upstream.on('response', (headers: IncomingHttpHeaders) => {
    const enc = headers['grpc-encoding'];
    if (enc !== undefined && enc !== 'identity') usable = false;
  });
  upstream.on('data', (chunk: Buffer) => {
    if (!usable) return;
    size += chunk.length;
    if (size > k.maxBytes + 5) {
      usable = false;
      chunks.length = 0;
    } else chunks.push(chunk);
  });
  upstream.on('trailers', (trailers: IncomingHttpHeaders) => {
    if (usable && trailers['grpc-status'] === '0' && size > 0) k.keep(Buffer.concat(chunks, size));
  });
}
