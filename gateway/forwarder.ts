import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { CancelSignal } from '../core/cancel-signal.js';
import { SystemClock, type Clock } from '../core/clock.js';
import { SERVE_DEFAULTS } from '../core/config.js';
import type { DrainState } from './drain.js';
import { BodyWatch, type WatchedBody } from './body-watch.js';
import { earlyAnswerConnector } from './early-answer.js';
import { clientResponseHeaders, clientResponseHeadersRaw, upstreamRequestHeaders, type PassedHead, type UpstreamDrop } from './forward-headers.js';
import { DataResponse } from './http1/data-response.js';
import { takeWholeBody } from './http1/data-connection.js';
import { UPSTREAM, UpstreamClient, UpstreamRequest, type ResponseHead } from './upstream-client.js';

/** Errors that prove the request never reached the replica (no connection was made), so it may go to another one. */
const NOT_REACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
/**
 * Errors of a connection that broke. They prove nothing about the request by themselves; it counts as never
 * reached only when it has a body and not one byte of that body was taken from the client (a runtime cannot
 * act on a request whose body it never got).
 */
const CONNECTION_BROKE = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', UPSTREAM.CLOSED]);

export class ForwardError extends Error {
  /** HTTP status for the client: 502 (replica failed) or 504 (replica too slow). */
  readonly status: number;
  /** The request never reached the replica and its body is untouched: safe to try another replica. */
  readonly retryable: boolean;
  readonly code: string;
  /**
   * No connection to the replica could be made: it is down or not listening, so it should leave the rotation
   * until a probe says otherwise. A connection that broke (a reset, a broken pipe) proves nothing of the kind:
   * a replica closes a connection after answering early (413 for a body over its limit) and is fine.
   */
  readonly unreachable: boolean;

  constructor(status: number, retryable: boolean, code: string, message: string, unreachable = false) {
    super(message);
    this.status = status;
    this.retryable = retryable;
    this.code = code;
    this.unreachable = unreachable;
  }
}

export interface ForwardOptions {
  /** Path and query sent upstream. */
  path: string;
  /** Max time to wait for the replica's response headers, and between body chunks. */
  timeoutMs: number;
  /** The client went away: abort the request to the replica. */
  signal: CancelSignal;
  /** While draining as the response begins, it closes the client connection (`Connection: close`). */
  drain?: DrainState;
  /** Told of the headers on their way (the gateway's exchange, which runs its stages' hooks). */
  observer?: ForwardObserver;
  /** Largest request body; a body that streams past it aborts the forward with 413 (absent or 0: none). */
  maxBodyBytes?: number;
  /** The setting that sets it, named in the 413. */
  maxBodyBytesSetting?: string;
  /**
   * A small request body read whole by an earlier attempt with these options (the forwarder sets it): a retry
   * on another replica sends it again. Reuse the options object across attempts to keep it.
   */
  wholeBody?: Buffer;
  /** The forwarder looked once for a small body already parsed whole (it sets it). */
  bodyLooked?: boolean;
}

/** A request with its body in memory (`Forwarder.request`). */
export interface BufferedForward {
  path: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
  timeoutMs: number;
  signal: CancelSignal;
}

/** A whole answer read into memory; headers as they would go to a client (hop-by-hop dropped). */
export interface BufferedAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Sees, and may change, the headers of a forward just before they are sent. */
export interface ForwardObserver {
  /** Client headers never sent to the replica (besides hop-by-hop ones): left out when the headers are built. */
  readonly upstreamDrop?: UpstreamDrop | null;
  /** The request headers about to be sent to the replica (hop-by-hop headers dropped, X-Forwarded-* set). */
  upstreamHeaders(headers: Record<string, string | string[]>): void;
  /**
   * Whether `upstreamHeaders` has anything to do (absent: always). When not, a request from Sluice's own data port
   * goes on with its fields written straight from the client's, without a header object of their own.
   */
  wantsUpstreamHeaders?(): boolean;
  /** The replica's response began with `status`; `headers` are about to be sent to the client. */
  responseStart(status: number, headers: Record<string, string | string[]>): void;
  /**
   * Whether `responseStart` has anything to do for this forward (absent: always). When not, the forward may pass
   * the replica's head on without gathering its headers into an object, and does not call `responseStart`.
   */
  wantsResponseStart?(): boolean;
  /** When it did not (`wantsResponseStart` false): the replica's head as it goes on, to read and add to. */
  responseHead?(head: PassedHead): void;
  /** When true, the body chunks are shown as they pass (read once per forward). */
  readonly teeBody?: boolean;
  /** A chunk of the request body, as it is passed to the replica. */
  requestData?(chunk: Buffer): void;
  /** A chunk of the replica's response, as it is written to the client. */
  responseData?(chunk: Buffer): void;
}

/** How a forward ended, for `Forwarder.forwardTo`: called once, possibly before `forwardTo` returns. */
export interface ForwardSink {
  /** The response was written to the client whole, with this status. */
  forwarded(status: number): void;
  /**
   * Nothing (or only part) of a response was sent: a ForwardError (its fields say whether another replica may be
   * tried), or whatever else went wrong on the way (a bug: the caller answers 500).
   */
  forwardFailed(err: unknown): void;
}

export interface ForwarderOptions {
  /** Keep-alive connections per replica. */
  connectionsPerReplica?: number;
  keepAliveTimeoutMs?: number;
  /** Longest silence of a client while its request body is read (bodyTimeoutSeconds); 0 = none. */
  bodyTimeoutMs?: number;
  clock?: Clock;
  /**
   * Requests whose body is in memory or absent go to `http://` replicas through Sluice's own HTTP/1.1 client
   * (gateway/upstream-client.ts) instead of undici (default true; false: undici for everything).
   */
  ownClient?: boolean;
}

/**
 * Request bodies up to this size, with a declared `content-length`, are read whole before they go upstream and
 * sent as one buffer. A body streamed through a Readable costs about a third of a proxied request's CPU: the
 * stream objects it makes per request live on in undici's stream writer past the next young-generation
 * collection, so each scavenge copied and promoted ~13 MB and paused the process 17-20 ms (issue 19;
 * load-tests/results/hotpath.md). Larger or chunked bodies stay streamed, read only when undici asks for them.
 */
export const WHOLE_BODY_MAX_BYTES = 64 * 1024;

/**
 * The one forwarder, shared by the gateway and the activator. Requests with a body in memory (read whole, up to
 * `WHOLE_BODY_MAX_BYTES`) or none go to `http://` replicas through Sluice's own keep-alive HTTP/1.1 client
 * (gateway/upstream-client.ts); streamed bodies (chunked or larger) and `https:` replicas through a keep-alive
 * undici Pool per replica. Response bodies are streamed to the client either way, never buffered.
 */
export class Forwarder {
  private readonly pools = new Map<string, Pool>();
  private readonly opts: Required<Omit<ForwarderOptions, 'bodyTimeoutMs' | 'clock' | 'ownClient'>>;
  private readonly watch: BodyWatch | null;
  private readonly own: UpstreamClient | null;

  constructor(opts: ForwarderOptions = {}) {
    this.opts = {
      connectionsPerReplica: opts.connectionsPerReplica ?? SERVE_DEFAULTS.connectionsPerReplica,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 4_000,
    };
    const bodyTimeoutMs = opts.bodyTimeoutMs ?? SERVE_DEFAULTS.bodyTimeoutSeconds * 1000;
    this.watch = bodyTimeoutMs > 0 ? new BodyWatch(opts.clock ?? new SystemClock(), bodyTimeoutMs) : null;
    this.own = opts.ownClient === false ? null : new UpstreamClient({ connections: this.opts.connectionsPerReplica, keepAliveTimeoutMs: this.opts.keepAliveTimeoutMs });
  }

  /** Drops the pool of a replica that is gone. */
  forget(url: string): void {
    this.own?.forget(url);
    const p = this.pools.get(url);
    if (!p) return;
    this.pools.delete(url);
    void p.close().catch(() => undefined);
  }

  /**
   * Pays, before any request needs it, what a process's first forward would pay on that request's path: undici
   * loads and compiles its HTTP/1 client and its llhttp WebAssembly parser on first use (5–10 ms measured, which
   * a cold start's first request would otherwise wait for). One request goes through a throwaway pool to a
   * throwaway loopback server. Best effort: never throws.
   */
  async warmUp(): Promise<void> {
    const server = createServer((_req, res) => res.end('ok'));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 });
      try {
        const answer = await pool.request({ path: '/', method: 'GET', headersTimeout: 2_000, bodyTimeout: 2_000 });
        await answer.body.dump();
      } finally {
        await pool.close();
      }
    } catch {
      // Warming is an optimisation: without it the first forward is a few ms slower, nothing more.
    } finally {
      server.close();
      server.closeAllConnections();
    }
  }

  async close(): Promise<void> {
    this.watch?.close();
    this.own?.close();
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }

  /**
   * Sends `req` to the replica at `baseUrl` and streams the answer into `res`, then tells `sink` how it ended, once
   * (possibly before `forwardTo` returns): `forwarded(status)` once the response has been fully written, or
   * `forwardFailed(err)`: a ForwardError when nothing was sent to the client (its `status`, `retryable` and
   * `unreachable` say what the caller may do next). No promise: the gateway's exchange is its own options and sink,
   * so a request whose body came with its head allocates no promise and no closure on its way to the replica and
   * back. Requests with a body in memory or none go through the own client; streamed bodies through undici's
   * `dispatch` with a handler that writes straight into the client response (docs/forwarder.md), pausing the
   * replica's stream when the client is slow.
   */
  forwardTo(baseUrl: string, req: IncomingMessage, res: ServerResponse, o: ForwardOptions, sink: ForwardSink): void {
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD' && (req.headers['content-length'] !== undefined
      ? req.headers['content-length'] !== '0'
      : req.headers['transfer-encoding'] !== undefined);
    const tee = o.observer?.teeBody ? o.observer : null;
    // The data port's own connection (gateway/http1), not node:http's server.
    const ownPort = res instanceof DataResponse;
    if (hasBody && o.wholeBody === undefined) {
      const declared = wholeBodyLength(req, o.maxBodyBytes ?? 0);
      if (declared >= 0) {
        const parsed = takeWholeBody(req, declared) ?? parsedBody(req, declared, ownPort);
        if (parsed !== null) o.wholeBody = parsed;
        else if (o.bodyLooked !== true && !ownPort) {
          // Called from node:http's 'request' event, a body that came in the same read as the head is parsed
          // right after the event: one microtask later it is all in the stream, taken with one read. (The data
          // port's own connections hand a request over once such a body is parsed: no need to look again.)
          o.bodyLooked = true;
          queueMicrotask(() => this.forwardAgain(baseUrl, req, res, o, sink));
          return;
        } else {
          this.readWhole(req, declared, o).then(
            () => this.forwardAgain(baseUrl, req, res, o, sink),
            (err: unknown) => sink.forwardFailed(err),
          );
          return;
        }
      }
    }
    const whole = o.wholeBody;
    if (this.own !== null && (whole !== undefined || !hasBody) && baseUrl.startsWith('http:')) {
      if (whole !== undefined && tee) tee.requestData!(whole);
      const observer = o.observer;
      // Sluice's own data port parsed the client's head strictly; when no stage sees the fields on their way, they
      // are written out straight from the client's, without a header object or a second check.
      const asLines = ownPort && (observer === undefined || observer.wantsUpstreamHeaders?.() === false);
      let headers: Record<string, string | string[]> | null = null;
      if (!asLines) {
        headers = upstreamRequestHeaders(req, observer?.upstreamDrop ?? null);
        observer?.upstreamHeaders(headers);
      }
      const call = new ForwardCall(this, this.own, method, req, res, o, tee, hasBody, sink);
      if (o.signal.aborted) call.onError(new Error('client closed the request'));
      else {
        o.signal.addEventListener('abort', call.onAbort);
        if (headers === null) this.own.sendClientFields(baseUrl, call, req, observer?.upstreamDrop ?? null, whole ?? null);
        // The data port's fields need no second check (requestWire).
        else this.own.send(baseUrl, call, headers, whole ?? null, ownPort ? req.headers : null);
      }
      return;
    }
    // A larger or chunked body is handed to undici lazily: nothing is taken from the client until undici has a
    // connection and asks for the first chunk, so a request that failed before that still has its whole body
    // for another replica.
    const pool = this.pool(baseUrl);
    const body = whole ?? (hasBody ? new LazyBody(req, this.watch, o.maxBodyBytes ?? 0, o.maxBodyBytesSetting ?? '', tee) : null);
    if (whole !== undefined && tee) tee.requestData!(whole);
    const headers = upstreamRequestHeaders(req, o.observer?.upstreamDrop ?? null);
    o.observer?.upstreamHeaders(headers);
    {
      let status = 0;
      let controller: Dispatcher.DispatchController | null = null;
      const onAbort = (): void => controller?.abort(new Error('client closed the request'));
      o.signal.addEventListener('abort', onAbort);
      const done = (): void => {
        o.signal.removeEventListener('abort', onAbort);
        if (body instanceof LazyBody) body.discardRest();
      };
      const fail = (err: unknown): void => {
        const e = this.classify(err, status, res, req, body instanceof LazyBody ? body : null, hasBody, o);
        done();
        sink.forwardFailed(e);
      };
      try {
        pool.dispatch(
          {
            path: o.path,
            method: method as Dispatcher.HttpMethod,
            headers,
            body,
            headersTimeout: o.timeoutMs,
            bodyTimeout: o.timeoutMs,
          },
          {
            onRequestStart(c) {
              controller = c;
              if (o.signal.aborted) c.abort(new Error('client closed the request'));
            },
            onResponseStart(_c, statusCode, headers) {
              if (statusCode < 200) return; // informational answers are not passed on
              status = statusCode;
              if (o.drain?.draining) res.shouldKeepAlive = false;
              const out = clientResponseHeaders(headers as Record<string, string | string[] | undefined>);
              o.observer?.responseStart(statusCode, out);
              res.writeHead(statusCode, out);
            },
            onResponseData(c, chunk) {
              if (tee) tee.responseData!(chunk);
              if (!res.write(chunk)) {
                c.pause();
                res.once('drain', () => c.resume());
              }
            },
            onResponseEnd() {
              res.end();
              done();
              sink.forwarded(status);
            },
            onResponseError(_c, err) {
              fail(err);
            },
          },
        );
      } catch (err) {
        fail(err);
      }
    }
  }

  /** `forwardTo` called again once the body is in memory: from a microtask, where a throw would reach no caller. */
  private forwardAgain(baseUrl: string, req: IncomingMessage, res: ServerResponse, o: ForwardOptions, sink: ForwardSink): void {
    try {
      this.forwardTo(baseUrl, req, res, o, sink);
    } catch (err) {
      sink.forwardFailed(err);
    }
  }

  /**
   * Sends a request whose body is already in memory (the batcher's merged request) and reads the whole answer.
   * Failures are ForwardErrors as for `forwardTo`: nothing reached the replica → 502 retryable; too slow → 504;
   * the signal fired → 499; anything else → 502 (not retried: it may have been processed).
   */
  async request(baseUrl: string, r: BufferedForward): Promise<BufferedAnswer> {
    if (this.own !== null && baseUrl.startsWith('http:')) {
      const call = new BufferedCall(r);
      const done = new Promise<BufferedAnswer>((resolve, reject) => {
        call.resolve = resolve;
        call.reject = reject;
      });
      const own = this.own;
      call.onAbort = () => own.cancel(call, 'client closed the request');
      if (r.signal.aborted) call.onError(Object.assign(new Error('client closed the request'), { code: UPSTREAM.ABORTED }));
      else {
        r.signal.addEventListener('abort', call.onAbort);
        own.send(baseUrl, call, r.headers, r.body);
      }
      return done;
    }
    try {
      const answer = await this.pool(baseUrl).request({
        path: r.path,
        method: 'POST',
        headers: r.headers,
        body: r.body,
        headersTimeout: r.timeoutMs,
        bodyTimeout: r.timeoutMs,
        signal: r.signal,
      });
      const chunks: Buffer[] = [];
      for await (const c of answer.body) chunks.push(c as Buffer);
      return { status: answer.statusCode, headers: clientResponseHeaders(answer.headers), body: Buffer.concat(chunks) };
    } catch (err) {
      throw bufferedError(err, r);
    }
  }

  /**
   * Reads a small body whole into `o.wholeBody`. Failures are ForwardErrors, as a forward's: the client stopped
   * sending (408, bodyTimeoutSeconds), went away (499), or sent past the body limit (413).
   */
  private readWhole(req: IncomingMessage, declared: number, o: ForwardOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const reader = new WholeBody(req, declared, this.watch, (err, body) => {
        o.signal.removeEventListener('abort', onAbort);
        if (body) {
          o.wholeBody = body;
          resolve();
          return;
        }
        const code = errCode(err);
        if (code === 'SLUICE_BODY_TIMEOUT') reject(new ForwardError(408, false, code, errText(err)));
        else reject(new ForwardError(499, false, 'UND_ERR_ABORTED', 'client closed the request'));
      });
      const onAbort = (): void => reader.fail(new Error('client closed the request'));
      o.signal.addEventListener('abort', onAbort);
      if (o.signal.aborted) onAbort();
    });
  }

  /**
   * What a failure means for the client: a cut response, 504, 499, or 502 (retryable when nothing was sent).
   * @internal (ForwardCall)
   */
  classify(
    err: unknown,
    status: number,
    res: ServerResponse,
    req: IncomingMessage,
    body: LazyBody | null,
    hasBody: boolean,
    o: ForwardOptions,
  ): ForwardError {
    const code = errCode(err);
    if (status !== 0) {
      // The response had begun: all we can do is cut it.
      res.destroy();
      return new ForwardError(502, false, code, `replica failed while sending the response: ${errText(err)}`);
    }
    if (code === 'SLUICE_BODY_TIMEOUT') return new ForwardError(408, false, code, errText(err));
    if (code === 'SLUICE_BODY_TOO_LARGE' || body?.tooLarge) return new ForwardError(413, false, 'SLUICE_BODY_TOO_LARGE', body?.tooLarge ?? errText(err));
    if (code === UPSTREAM.QUEUE_FULL) return new ForwardError(503, false, code, errText(err));
    if (code === UPSTREAM.INVALID_HEADER) return new ForwardError(502, false, code, `the request was not sent: ${errText(err)}`);
    if (code === UPSTREAM.MALFORMED) return new ForwardError(502, false, code, `the replica's answer is not valid HTTP/1.1: ${errText(err)}`);
    if (code === 'UND_ERR_HEADERS_TIMEOUT') return new ForwardError(504, false, code, `the replica did not answer within ${o.timeoutMs} ms`);
    if (code === 'UND_ERR_ABORTED' || o.signal.aborted) return new ForwardError(499, false, code, 'client closed the request');
    // A body read whole is kept (o.wholeBody): a replica no connection was made to can be sent it again. Once a
    // connection was made it was written out, so a broken connection may have delivered it: not retried.
    const kept = o.wholeBody !== undefined;
    const untouched = kept || (!(body?.started ?? false) && !req.readableDidRead && !req.destroyed);
    if (NOT_REACHED.has(code)) return new ForwardError(502, untouched, code, `could not reach the replica: ${errText(err)}`, true);
    if (CONNECTION_BROKE.has(code) && !kept && untouched && hasBody)
      return new ForwardError(502, true, code, `the connection to the replica broke before the request was sent: ${errText(err)}`);
    return new ForwardError(
      502,
      false,
      code,
      `the replica failed while handling the request (${code}); it was not retried because it may have been processed`,
    );
  }

  private pool(baseUrl: string): Pool {
    let p = this.pools.get(baseUrl);
    if (!p) {
      p = new Pool(baseUrl, {
        connections: this.opts.connectionsPerReplica,
        pipelining: 1,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs,
        keepAliveMaxTimeout: this.opts.keepAliveTimeoutMs,
        // A replica's answer written before it read the whole body reaches the client (early-answer.ts).
        connect: earlyAnswerConnector(),
      });
      this.pools.set(baseUrl, p);
    }
    return p;
  }
}

/**
 * One forward through the own upstream client: tells the client response of the replica's answer as it comes,
 * and settles the forward's promise. The only closures it makes are the abort listener and, on the first
 * backpressure, the drain listener.
 */
class ForwardCall extends UpstreamRequest {
  status = 0;
  readonly onAbort = (): void => this.client.cancel(this, 'client closed the request');
  private onDrain: (() => void) | null = null;

  constructor(
    private readonly f: Forwarder,
    private readonly client: UpstreamClient,
    method: string,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly o: ForwardOptions,
    private readonly tee: ForwardObserver | null,
    private readonly hasBody: boolean,
    private readonly sink: ForwardSink,
  ) {
    super(method, o.path, o.timeoutMs);
  }

  onHead(status: number, head: ResponseHead): void {
    this.status = status;
    const o = this.o;
    if (o.drain?.draining) this.res.shouldKeepAlive = false;
    const observer = o.observer;
    const res = this.res as ServerResponse | DataResponse;
    if (res instanceof DataResponse && !head.listsFields && (observer === undefined || observer.wantsResponseStart?.() === false)) {
      // Sluice's own data port, and no stage looks at this head: its lines go on as the upstream client checked them.
      observer?.responseHead?.(head);
      res.writeHeadLines(status, head.passOn(), head.hasDate, head.hasLength);
      return;
    }
    const out = clientResponseHeadersRaw(head.raw());
    observer?.responseStart(status, out);
    res.writeHead(status, out);
  }

  onData(chunk: Buffer): boolean {
    if (this.tee) this.tee.responseData!(chunk);
    if (this.res.write(chunk)) return true;
    this.res.once('drain', (this.onDrain ??= () => this.resume()));
    return false;
  }

  onEnd(): void {
    this.o.signal.removeEventListener('abort', this.onAbort);
    if (this.onDrain !== null) this.res.off('drain', this.onDrain);
    this.res.end();
    this.sink.forwarded(this.status);
  }

  onError(err: Error): void {
    this.o.signal.removeEventListener('abort', this.onAbort);
    if (this.onDrain !== null) this.res.off('drain', this.onDrain);
    this.sink.forwardFailed(this.f.classify(err, this.status, this.res, this.req, null, this.hasBody, this.o));
  }
}

/** The batcher's request through the own upstream client: the whole answer gathered in memory. */
class BufferedCall extends UpstreamRequest {
  resolve: (answer: BufferedAnswer) => void = noop;
  reject: (err: ForwardError) => void = noop;
  onAbort: () => void = noop;
  private status = 0;
  private headers: Record<string, string | string[]> = {};
  private readonly chunks: Buffer[] = [];

  constructor(private readonly r: BufferedForward) {
    super('POST', r.path, r.timeoutMs);
  }

  onHead(status: number, head: ResponseHead): void {
    this.status = status;
    this.headers = clientResponseHeadersRaw(head.raw());
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onEnd(): void {
    this.r.signal.removeEventListener('abort', this.onAbort);
    this.resolve({ status: this.status, headers: this.headers, body: Buffer.concat(this.chunks) });
  }

  onError(err: Error): void {
    this.r.signal.removeEventListener('abort', this.onAbort);
    this.reject(bufferedError(err, this.r));
  }
}

function noop(): void {}

/** A buffered request's failure as a ForwardError (see `Forwarder.request`). */
function bufferedError(err: unknown, r: BufferedForward): ForwardError {
  const code = errCode(err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new ForwardError(504, false, code, `the replica did not answer within ${r.timeoutMs} ms`);
  if (code === 'UND_ERR_ABORTED' || r.signal.aborted) return new ForwardError(499, false, code, 'client closed the request');
  if (NOT_REACHED.has(code)) return new ForwardError(502, true, code, `could not reach the replica: ${errText(err)}`, true);
  if (code === UPSTREAM.QUEUE_FULL) return new ForwardError(503, false, code, errText(err));
  if (code === UPSTREAM.INVALID_HEADER) return new ForwardError(502, false, code, `the request was not sent: ${errText(err)}`);
  if (code === UPSTREAM.MALFORMED) return new ForwardError(502, false, code, `the replica's answer is not valid HTTP/1.1: ${errText(err)}`);
  return new ForwardError(502, false, code, `the replica failed while handling the request (${code}); it was not retried because it may have been processed`);
}

/** The client stopped sending its request body while the gateway was reading it. */
export class BodyTimeoutError extends Error {
  readonly code = 'SLUICE_BODY_TIMEOUT';

  constructor(timeoutMs: number) {
    const s = timeoutMs / 1000;
    super(`the client sent no request body bytes for ${s} s while the gateway was reading them (bodyTimeoutSeconds=${s})`);
  }
}

/** The client's body streamed past its limit (the body-limit stage's `maxBodyBytes`). */
export class BodyTooLargeError extends Error {
  readonly code = 'SLUICE_BODY_TOO_LARGE';
}

/**
 * The whole body of a request once the server has parsed all its declared bytes into the stream (its end may
 * come later: the parser never passes on more than the content-length), taken with one `read()` (no listener,
 * no event, no copy for a body in one chunk), or null: the body is still arriving, or something reads the
 * stream already. node:http's request is then left flowing, so that its end still comes as an `end` event: its
 * server lets go of a request (its parser's reference, kept while an idle keep-alive connection waits) only
 * then. The data port's own request (`ownPort`) has been let go of already, and a read that empties an ended
 * stream ends it: it is not resumed (one `process.nextTick` and a flow less).
 */
function parsedBody(req: IncomingMessage, declared: number, ownPort: boolean): Buffer | null {
  if (req.readableLength !== declared || req.readableFlowing === true || req.destroyed) return null;
  const body = req.read() as Buffer | null;
  if (!ownPort) req.resume();
  return body;
}

/**
 * The declared length of a body to read whole (`WHOLE_BODY_MAX_BYTES` and the body limit allowing), or -1: the
 * body is chunked, larger, or over the limit (the lazy stream then answers 413 as it passes the limit).
 */
function wholeBodyLength(req: IncomingMessage, maxBodyBytes: number): number {
  const cl = req.headers['content-length'];
  if (cl === undefined || req.headers['transfer-encoding'] !== undefined) return -1;
  const n = Number(cl);
  if (!(n > 0 && n <= WHOLE_BODY_MAX_BYTES)) return -1;
  return maxBodyBytes > 0 && n > maxBodyBytes ? -1 : n;
}

/**
 * Reads a request body of a declared length whole, timed by the body watch while the client sends. `done` is
 * called once: with the body, or with the error that ended the read.
 */
class WholeBody implements WatchedBody {
  lastTick = 0;
  paused = false;
  prevWatched: WatchedBody | null = null;
  nextWatched: WatchedBody | null = null;
  private first: Buffer | null = null;
  private chunks: Buffer[] | null = null;
  private ended = false;
  private readonly onData = (chunk: Buffer): void => {
    if (this.watch) this.lastTick = this.watch.tick;
    if (this.first === null) this.first = chunk;
    else (this.chunks ??= [this.first]).push(chunk);
  };
  private readonly onEnd = (): void => {
    const body = this.chunks ? Buffer.concat(this.chunks) : this.first ?? Buffer.alloc(0);
    this.finish(null, body);
  };
  private readonly onError = (err: Error): void => this.finish(err, null);
  private readonly onAborted = (): void => this.finish(new Error('client closed the request'), null);

  constructor(
    private readonly req: IncomingMessage,
    readonly declared: number,
    private readonly watch: BodyWatch | null,
    private readonly done: (err: Error | null, body: Buffer | null) => void,
  ) {
    req.on('data', this.onData);
    req.once('end', this.onEnd);
    req.once('error', this.onError);
    req.once('aborted', this.onAborted);
    watch?.add(this);
  }

  bodyTimedOut(timeoutMs: number): void {
    this.finish(new BodyTimeoutError(timeoutMs), null);
  }

  fail(err: Error): void {
    this.finish(err, null);
  }

  private finish(err: Error | null, body: Buffer | null): void {
    if (this.ended) return;
    this.ended = true;
    this.watch?.remove(this);
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
    this.req.off('error', this.onError);
    this.req.off('aborted', this.onAborted);
    this.first = this.chunks = null;
    this.done(err, body);
  }
}

/**
 * A request body that starts reading the client's stream only when undici first asks for data, and passes
 * chunks on with backpressure. Destroying it before that leaves the client's stream untouched. While it reads,
 * the body watch times a client that stops sending (not while the replica is slow to take the body).
 */
class LazyBody extends Readable implements WatchedBody {
  started = false;
  lastTick = 0;
  paused = false;
  prevWatched: WatchedBody | null = null;
  nextWatched: WatchedBody | null = null;
  /** Set (to the 413's message) once the body streamed past its limit. */
  tooLarge: string | null = null;
  private received = 0;
  private readonly onData = (chunk: Buffer): void => {
    if (this.watch) this.lastTick = this.watch.tick;
    if (this.maxBytes > 0 && (this.received += chunk.length) > this.maxBytes) {
      this.tooLarge = `the request body is larger than the ${this.maxBytes} bytes allowed (${this.maxBytesSetting}=${this.maxBytes})`;
      this.destroy(new BodyTooLargeError(this.tooLarge));
      return;
    }
    if (this.tee) this.tee.requestData!(chunk);
    if (!this.push(chunk)) {
      this.paused = true;
      this.req.pause();
    }
  };
  private readonly onEnd = (): void => {
    this.watch?.remove(this);
    this.push(null);
  };
  private readonly onError = (err: Error): void => {
    this.destroy(err);
  };
  private readonly onAborted = (): void => {
    this.destroy(new Error('client closed the request'));
  };

  constructor(
    private readonly req: IncomingMessage,
    private readonly watch: BodyWatch | null,
    private readonly maxBytes = 0,
    private readonly maxBytesSetting = '',
    private readonly tee: ForwardObserver | null = null,
  ) {
    super();
  }

  override _read(): void {
    if (this.started) {
      if (this.paused) {
        this.paused = false;
        if (this.watch) this.lastTick = this.watch.tick;
      }
      this.req.resume();
      return;
    }
    this.started = true;
    this.req.on('data', this.onData);
    this.req.once('end', this.onEnd);
    this.req.once('error', this.onError);
    this.req.once('aborted', this.onAborted);
    this.watch?.add(this);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.detach();
    callback(err);
  }

  bodyTimedOut(timeoutMs: number): void {
    this.destroy(new BodyTimeoutError(timeoutMs));
  }

  /**
   * The exchange with the replica is over but the client is still sending (the replica answered before it read
   * the whole body): stop passing chunks on and discard the rest, so the answer is read by the client and the
   * connection stays usable. Closing it instead would reset the client while it sends, and lose the answer.
   */
  discardRest(): void {
    if (!this.started || this.req.complete) return;
    this.detach();
    this.req.resume();
  }

  private detach(): void {
    if (!this.started) return;
    this.watch?.remove(this);
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
    this.req.off('error', this.onError);
    this.req.off('aborted', this.onAborted);
  }
}

function errCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; cause?: { code?: unknown } };
    if (typeof e.code === 'string') {
      if (e.code === 'UND_ERR_SOCKET' && typeof e.cause?.code === 'string') return e.cause.code;
      return e.code;
    }
    if (typeof e.cause?.code === 'string') return e.cause.code;
  }
  return 'UNKNOWN';
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
