import { IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { writeError } from '../../core/errors.js';
import { DataResponse, type ResponseOwner } from './data-response.js';
import { leanRequest } from './lean-head.js';
import { readShared } from './shared-reads.js';
import { llhttp, type Llhttp, type NativeParser, type ParseError } from './llhttp.js';

/** What the data port's HTTP/1.1 connections need from the gateway. */
export interface Http1Options {
  clock: Clock;
  /** A request head must be complete within this from its first byte (and a new connection's first request from accept). */
  headerTimeoutMs: number;
  /** Largest request head in bytes (the parser's limit; more is HPE_HEADER_OVERFLOW). */
  maxHeaderBytes: number;
  /** An idle keep-alive connection is closed this long after its last response (advertised in `Keep-Alive`). */
  keepAliveMs: number;
  /** How often head and idle deadlines are looked at. */
  checkEveryMs: number;
  /**
   * Called with each request (as node:http's `request` event) once its message is complete or the read that
   * brought its head is parsed, whichever comes first: a body sent with its head is then in the request already.
   */
  onRequest(req: IncomingMessage, res: DataResponse): void;
  /**
   * A request the parser refused or a head that timed out (`err.code` as node:http's: `HPE_*`,
   * `ERR_HTTP_REQUEST_TIMEOUT`). Returns the bytes to answer with while no response on the connection has begun
   * (null: none); the connection is closed after.
   */
  clientError(err: ParseError): string | null;
  /** The parser binding to use (default: this Node's, `llhttp`); null is a Node without one (tests). */
  binding?: Llhttp | null;
  /** Whole simple requests parsed in JavaScript, not by llhttp (gateway/http1/lean-head.ts; default true). */
  leanRequests?: boolean;
  /**
   * Reads into the buffer all connections share (gateway/http1/shared-reads.ts; default true). False: every read
   * is a 'data' event, as on a Node whose net lacks the fields shared reads set (tests take that path with it).
   */
  sharedReads?: boolean;
  /**
   * HTTP/2 with prior knowledge on this port (gRPC): a connection whose first bytes are the start of the HTTP/2
   * preface (`PRI `) leaves this server at once and is handed here with those bytes (a copy), to be read again
   * by the HTTP/2 server (gateway/grpc/h2c-front.ts `takeOver`). Unset: every connection is HTTP/1.
   */
  onPreface?: (socket: Socket, bytes: Buffer) => void;
}

/** The start of the HTTP/2 connection preface (RFC 9113 §3.4); no HTTP/1.x method begins with `PRI `. */
const PREFACE_START = Buffer.from('PRI ', 'latin1');

/** The methods the fast path takes; any other is llhttp's to parse. */
const LEAN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];

/** The fast path's method table for a binding: names to llhttp's numbers (null if one is missing). */
function leanMethodsOf(l: Llhttp): ReadonlyMap<string, number> | null {
  const m = new Map<string, number>();
  for (const name of LEAN_METHODS) {
    const i = l.methods.indexOf(name);
    if (i < 0) return null;
    m.set(name, i);
  }
  return m;
}

/**
 * Unanswered requests on a connection past which it stops reading from the socket until some are answered. As
 * in node:http, the requests already read are still parsed: one read (at most 64 KiB) is the most taken past it.
 */
const MAX_PIPELINED = 16;
/** Seconds past the advertised keep-alive before an idle connection is closed (so a client sees its close first). */
const KEEP_ALIVE_GRACE_MS = 1000;
const EXPECT_CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;
/** Header pairs taken from one head (node:http's default maxHeadersCount); the header-limits stage counts them. */
const MAX_HEADER_PAIRS = 2000;

const NO_BODY = Buffer.alloc(0);

/**
 * A request on a data-port connection: node:http's IncomingMessage, fed by this connection's parser. Unlike
 * node:http's, it is not destroyed when its body has ended (no `close` event, two `process.nextTick`s less per
 * request): nothing listens for it, and the connection destroys a request its client leaves unanswered.
 *
 * A request that is complete when it is handed over (its body came with its head, or it has none) keeps its
 * body aside (`held`) instead of in the stream: the forwarder takes it whole (`takeWholeBody`), and the stream
 * gets it, and its end, only if something reads the stream. That spares the stream's bookkeeping and its two
 * `process.nextTick`s (for the end pushed before any read, and for the read that empties it).
 */
export class DataRequest extends IncomingMessage {
  conn: DataConnection | null = null;
  /**
   * undefined: the body goes through the stream as it is parsed. A Buffer: the whole body (empty for none), not
   * in the stream yet. null: the whole body was taken (`takeWholeBody`); the stream holds only its end.
   */
  held: Buffer | null | undefined = undefined;
  /** Body chunks parsed before the request was handed over (the rest of the read that brought its head). */
  early: Buffer[] | null = null;
  constructor(socket: Socket) {
    super(socket);
    (this as unknown as { _readableState: { autoDestroy: boolean } })._readableState.autoDestroy = false;
  }
  override _read(): void {
    // As IncomingMessage's own: from the first read on, the body is the reader's (not dumped at the response's end).
    const self = this as unknown as { _consuming: boolean; _readableState: { readingMore: boolean } };
    if (!self._consuming) {
      self._readableState.readingMore = false;
      self._consuming = true;
    }
    const held = this.held;
    if (held !== undefined) {
      this.held = undefined;
      if (held !== null && held.length > 0) this.push(held);
      this.push(null);
      return;
    }
    this.conn?.bodyWanted();
  }
}

/**
 * The whole body of a data-port request that was complete when it was handed over, if it has exactly
 * `declared` bytes and nothing has read its stream; it is taken (the stream then yields only its end). Else null.
 */
export function takeWholeBody(req: IncomingMessage, declared: number): Buffer | null {
  if (!(req instanceof DataRequest)) return null;
  const held = req.held;
  if (held === undefined || held === null || held.length !== declared || req.destroyed) return null;
  req.held = null;
  return held;
}

/**
 * One client connection of the data port, in place of node:http's: reads come straight from the socket's handle
 * (shared-reads.ts); whole simple requests at the start of a read are parsed in JavaScript (lean-head.ts) and the
 * rest by Node's native parser (llhttp). Each request becomes an IncomingMessage (the stages read it as before)
 * and a DataResponse that writes to the socket itself. Responses to pipelined requests go out in order. What it
 * saves against node:http's server: load-tests/results/hotpath.md, "third session" and "fifteenth session".
 */
class DataConnection implements ResponseOwner {
  /** llhttp, once a read needed it (see `llhttp()`). */
  private parser: NativeParser | null = null;
  /** Responses not finished yet, in request order; the first is the one writing. */
  private readonly queue: DataResponse[] = [];
  /** The request whose body the parser is reading. */
  private incoming: DataRequest | null = null;
  /**
   * The response to a request whose head is parsed and which is not yet handed to the gateway: that happens when
   * its message is complete or when the parser has taken all of the current read, whichever comes first. A body
   * that came in the same read as its head is then on the request, whole (`held`).
   */
  private waiting: DataResponse | null = null;
  /** Header lines and target collected when a head spans several reads. */
  private partHeaders: string[] = [];
  private partUrl = '';
  /** A request head has begun and is not complete. */
  private inHead = false;
  /** No request has begun on this connection yet (its first head is timed from accept). */
  private fresh = true;
  private headSince: number;
  private idleSince: number;
  private bodyFull = false;
  private queueFull = false;
  /** No more requests are parsed (after an upgrade request, a request that closes its connection, or once closing). */
  private stopped = false;
  private closed = false;
  readonly keepAliveSeconds: number;
  /** The fast path's methods (null: every request goes to llhttp), and the largest head it takes. */
  private readonly leanMethods: ReadonlyMap<string, number> | null;
  private readonly leanMaxHead: number;
  /** The first bytes are still to be told apart from the HTTP/2 preface (Http1Options.onPreface). */
  private sniffing: boolean;
  /** A first read shorter than the preface's start that matched it so far (a copy), waiting for more. */
  private sniffed: Buffer | null = null;
  private readonly onData = (d: Buffer): void => this.onBytes(d, false);
  private readonly onSocketEnd = (): void => this.onEnd();
  private readonly onSocketError = (): void => {
    // 'close' follows and cleans up.
  };
  private readonly onSocketClose = (): void => this.onClose();
  private readonly onDrain = (): void => this.queue[0]?.drained();

  constructor(
    readonly socket: Socket,
    private readonly l: Llhttp,
    private readonly o: Http1Options,
    private readonly all: Set<DataConnection>,
    lean: ReadonlyMap<string, number> | null,
  ) {
    this.leanMethods = lean;
    this.sniffing = o.onPreface !== undefined;
    // Half of llhttp's limit: a head near the limit is llhttp's to judge.
    this.leanMaxHead = o.maxHeaderBytes >> 1;
    this.keepAliveSeconds = Math.floor(o.keepAliveMs / 1000);
    this.headSince = this.idleSince = o.clock.monotonic();
    all.add(this);
    // Reads go to onBytes straight from the handle, into a buffer all connections share; 'data' brings what the
    // gRPC sniff put back, and every read on a Node without the fields readShared sets.
    if (o.sharedReads !== false) readShared(socket, (d) => this.onBytes(d, true));
    socket.on('data', this.onData);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('drain', this.onDrain);
  }

  /**
   * llhttp for this connection, made when a read first has bytes the fast path does not take: a connection whose
   * requests all take the fast path never has one (making one, initializing and closing it cost 1.3–2.1 µs).
   */
  private llhttp(): NativeParser {
    const l = this.l;
    const p = (this.parser = new l.Parser());
    p.initialize(l.REQUEST, {}, this.o.maxHeaderBytes, 0);
    p[l.kOnMessageBegin] = () => {
      this.inHead = true;
      this.fresh = false;
      this.headSince = this.o.clock.monotonic();
    };
    p[l.kOnHeaders] = (headers: string[], url: string) => {
      if (this.partHeaders.length < MAX_HEADER_PAIRS * 2) this.partHeaders.push(...headers);
      this.partUrl += url;
    };
    p[l.kOnHeadersComplete] = (major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, _s: unknown, _m: unknown, upgrade: boolean, keepAlive: boolean) =>
      this.onHead(major, minor, headers, method, url, upgrade, keepAlive);
    p[l.kOnBody] = (b: Buffer) => this.onBody(b);
    p[l.kOnMessageComplete] = () => this.onMessageComplete();
    return p;
  }

  /**
   * The connection's first bytes, while they may still be the HTTP/2 preface's start: the HTTP/1 bytes to parse
   * (all of them, from the first that differs), or null when there is nothing to parse (the socket was handed
   * over, or the bytes so far match and are kept until more come).
   */
  private sniff(d: Buffer): Buffer | null {
    const kept = this.sniffed;
    const bytes = kept === null ? d : Buffer.concat([kept, d]);
    const n = Math.min(bytes.length, PREFACE_START.length);
    if (bytes.compare(PREFACE_START, 0, n, 0, n) !== 0) {
      this.sniffing = false;
      this.sniffed = null;
      return bytes;
    }
    // A copy: `d` may be a view of the buffer every connection's reads share.
    const copy = kept === null ? Buffer.from(bytes) : bytes;
    if (n < PREFACE_START.length) this.sniffed = copy;
    else this.handOver(copy);
    return null;
  }

  /** HTTP/2 on this connection: it leaves this server (as if never taken) and goes to `onPreface` with its bytes. */
  private handOver(bytes: Buffer): void {
    this.stopped = this.closed = true;
    this.sniffing = false;
    this.sniffed = null;
    this.all.delete(this);
    const s = this.socket;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onSocketEnd);
    s.removeListener('error', this.onSocketError);
    s.removeListener('close', this.onSocketClose);
    s.removeListener('drain', this.onDrain);
    this.parser?.close();
    this.parser = null;
    this.o.onPreface!(s, bytes);
  }

  /**
   * A read from the client. Whole requests at its start in the fast path's subset (gateway/http1/lean-head.ts)
   * are taken without llhttp, while llhttp is between messages; llhttp parses the rest of the read.
   */
  private onBytes(d: Buffer, shared: boolean): void {
    if (this.stopped) return;
    if (this.sniffing) {
      const from = this.sniffed;
      const bytes = this.sniff(d);
      if (bytes === null) return;
      // Joined with bytes kept from an earlier read: a buffer of its own, no longer the shared one.
      if (from !== null) {
        d = bytes;
        shared = false;
      }
    }
    let off = 0;
    const n = d.length;
    if (this.leanMethods !== null && !this.inHead && this.incoming === null) {
      for (;;) {
        const r = leanRequest(d, off, this.leanMaxHead, this.leanMethods);
        if (r === null) break;
        // What llhttp's callbacks would have done for it, in their order.
        this.fresh = false;
        const bodyFrom = r.bodyFrom;
        const bodyLength = r.bodyLength;
        const keepAlive = r.keepAlive;
        this.onHead(1, r.minor, r.headers, r.method, r.url, false, keepAlive);
        // A body is copied out of a shared read buffer (the next read overwrites it); llhttp copies its own.
        if (bodyLength > 0) this.onBody(shared ? Buffer.from(d.subarray(bodyFrom, bodyFrom + bodyLength)) : d.subarray(bodyFrom, bodyFrom + bodyLength));
        this.onMessageComplete();
        // As llhttp after a request that closes its connection: whatever follows is read and dropped; the answer
        // closes the connection.
        if (!keepAlive) this.stopped = true;
        off = bodyFrom + bodyLength;
        if (off === n || this.stopped || this.closed) return;
      }
    }
    const ret = (this.parser ?? this.llhttp()).execute(off === 0 ? d : d.subarray(off));
    this.dispatchWaiting();
    if (typeof ret !== 'number') this.onParseError(ret);
  }

  private onBody(b: Buffer): void {
    const req = this.incoming;
    if (req === null || (req as unknown as { _dumped: boolean })._dumped) return;
    // Not handed over yet: kept until the request is complete or the read is parsed (at most one read's bytes).
    if (this.waiting !== null && this.waiting.req === req) (req.early ??= []).push(b);
    else if (!req.push(b)) this.setBodyFull(true);
  }

  private onHead(major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, upgrade: boolean, keepAlive: boolean): number {
    if (headers === undefined) {
      headers = this.partHeaders;
      this.partHeaders = [];
    }
    if (url === undefined) {
      url = this.partUrl;
      this.partUrl = '';
    }
    this.inHead = false;
    // After an upgrade request (or once closing) the connection's bytes are read and dropped, never served.
    if (this.stopped) return 0;
    const name = this.l.methods[method] ?? 'UNKNOWN';
    if (name === 'CONNECT') {
      // No tunnels (node:http without a `connect` listener does the same).
      this.socket.destroy();
      return 0;
    }
    const req = new DataRequest(this.socket);
    req.conn = this;
    req.httpVersionMajor = major;
    req.httpVersionMinor = minor;
    req.httpVersion = `${major}.${minor}`;
    req.url = url;
    req.method = name;
    (req as unknown as { _addHeaderLines(h: string[], n: number): void })._addHeaderLines(headers, Math.min(headers.length, MAX_HEADER_PAIRS * 2));
    this.incoming = req;
    // An upgrade is served as a plain request (no protocol switch here), and its answer closes the connection.
    if (upgrade) this.stopped = true;
    const res = new DataResponse(this, req, keepAlive && !upgrade);
    this.queue.push(res);
    if (this.queue.length === 1) res.attached = true;
    else if (this.queue.length >= MAX_PIPELINED) this.setQueueFull(true);
    if (major === 1 && minor === 1 && req.headers.host === undefined) {
      res.shouldKeepAlive = false;
      writeError(res as unknown as ServerResponse, 400, 'an HTTP/1.1 request must carry a Host header');
      return 0;
    }
    const expect = req.headers.expect;
    if (expect !== undefined && major === 1 && minor === 1) {
      if (!EXPECT_CONTINUE.test(expect)) {
        writeError(res as unknown as ServerResponse, 417, `the expectation "${expect}" is not supported (only 100-continue is)`);
        return 0;
      }
      res.writeContinue();
    }
    this.waiting = res;
    return 0;
  }

  /**
   * Hands the waiting request, if any, to the gateway. One still incomplete gets the body parsed so far in its
   * stream first; the rest follows as it is parsed.
   */
  private dispatchWaiting(): void {
    const res = this.waiting;
    if (res === null) return;
    this.waiting = null;
    const req = res.req as DataRequest;
    const early = req.early;
    if (early !== null) {
      req.early = null;
      let full = false;
      for (const b of early) full = !req.push(b);
      if (full && this.incoming === req) this.setBodyFull(true);
    }
    this.o.onRequest(req, res);
  }

  private onMessageComplete(): void {
    const req = this.incoming;
    this.incoming = null;
    if (req === null) {
      this.dispatchWaiting();
      return;
    }
    req.conn = null;
    req.complete = true;
    if (this.partHeaders.length > 0) {
      // Trailer fields of a chunked body.
      (req as unknown as { _addHeaderLines(h: string[], n: number): void })._addHeaderLines(this.partHeaders, this.partHeaders.length);
      this.partHeaders = [];
      this.partUrl = '';
    }
    if (this.waiting !== null && this.waiting.req === req) {
      // Complete before it was handed over: its body is kept aside, whole.
      const early = req.early;
      req.early = null;
      req.held = early === null ? NO_BODY : early.length === 1 ? early[0]! : Buffer.concat(early);
    } else req.push(null);
    this.setBodyFull(false);
    this.dispatchWaiting();
  }

  /** The request's reader wants more of its body. */
  bodyWanted(): void {
    this.setBodyFull(false);
  }

  private setBodyFull(full: boolean): void {
    if (this.bodyFull === full) return;
    this.bodyFull = full;
    this.reading();
  }

  private setQueueFull(full: boolean): void {
    if (this.queueFull === full) return;
    this.queueFull = full;
    this.reading();
  }

  /** Reads from the socket unless a body's reader or the response queue is behind. */
  private reading(): void {
    if (this.closed) return;
    if (!this.bodyFull && !this.queueFull) this.socket.resume();
    else this.socket.pause();
  }

  /** ResponseOwner: `res` has handed its last byte to the socket. */
  finished(res: DataResponse): void {
    const q = this.queue;
    if (q[0] === res) q.shift();
    else {
      const i = q.indexOf(res);
      if (i >= 0) q.splice(i, 1);
    }
    const req = res.req as DataRequest;
    // A body nobody read is read and dropped, so that the next request on the connection is found after it (a
    // stream that has ended with nothing left in it has nothing to drop).
    const r = req as unknown as { _consuming: boolean; _readableState: { resumeScheduled: boolean; ended: boolean; length: number }; _dump(): void };
    const st = r._readableState;
    if (!r._consuming && !st.resumeScheduled && !(st.ended && st.length === 0) && req.held === undefined) {
      r._dump();
      if (this.incoming === req) this.setBodyFull(false);
    }
    if (res.last) {
      this.close();
      return;
    }
    if (this.queueFull && q.length < MAX_PIPELINED) this.setQueueFull(false);
    if (q.length > 0) q[0]!.attach();
    else this.idleSince = this.o.clock.monotonic();
  }

  /** After the last response: the bytes go out, then the connection closes. */
  private close(): void {
    this.stopped = true;
    // Every byte already with the kernel (the common case): closing the descriptor sends them and then FIN, as a
    // shutdown would, without the shutdown's own request and callback through the loop (9 % of the CPU of a
    // connection per request; hotpath.md, "twenty-sixth session"). Bytes still queued wait for the shutdown.
    if (this.socket.writableLength === 0) {
      this.socket.destroy();
      return;
    }
    const s = this.socket as Socket & { destroySoon?: () => void };
    if (typeof s.destroySoon === 'function') s.destroySoon();
    else s.end();
  }

  /**
   * The client sent FIN. As node:http's server (no half-open HTTP), the connection ends: a request that was not
   * complete is a parse error, and responses still in flight are cut (their requests see the close).
   */
  private onEnd(): void {
    if (this.closed) return;
    // No parser: every byte so far was a whole request the fast path took, so nothing is left unfinished.
    const ret = this.stopped || this.parser === null ? 0 : this.parser.finish();
    this.dispatchWaiting();
    if (ret !== undefined && typeof ret !== 'number') {
      this.onParseError(ret);
      return;
    }
    this.stopped = true;
    this.socket.end();
  }

  onParseError(err: ParseError): void {
    if (this.closed || this.stopped) return;
    this.stopped = true;
    // Bytes after a request that closes its connection: that request's answer closes it.
    if (err.code === 'HPE_CLOSED_CONNECTION' && this.queue.length > 0) return;
    const front = this.queue[0];
    const answer = front === undefined || !front.headersSent ? this.o.clientError(err) : null;
    const s = this.socket;
    if (answer !== null && s.writable) s.end(answer, () => s.destroy());
    else s.destroy();
  }

  /** The head deadline or the keep-alive deadline passed (called by the sweep). */
  check(now: number): void {
    if (this.closed) return;
    if (this.inHead || (this.fresh && this.queue.length === 0)) {
      if (now - this.headSince >= this.o.headerTimeoutMs) {
        // Nothing has told this connection's protocol yet (no byte, or only the start of the HTTP/2 preface): it is
        // closed without an answer, which an HTTP/2 client would not read.
        if (this.sniffing) this.socket.destroy();
        else this.onParseError(Object.assign(new Error('request head timed out'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }));
      }
    } else if (this.queue.length === 0 && now - this.idleSince >= this.o.keepAliveMs + KEEP_ALIVE_GRACE_MS) {
      this.socket.destroy();
    }
  }

  /**
   * Between requests on a keep-alive connection (no head begun, nothing being answered): closing it loses
   * nothing. A new connection is not idle (as in node:http): its first request may be on its way; the head
   * deadline bounds it.
   */
  get idle(): boolean {
    return this.queue.length === 0 && !this.inHead && !this.fresh;
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.all.delete(this);
    const q = this.queue.splice(0);
    this.incoming = null;
    this.waiting = null;
    for (const res of q) {
      const req = res.req as DataRequest;
      req.conn = null;
      if (!req.destroyed) req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      res.closed();
    }
    try {
      this.parser?.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Takes over `server`'s cleartext HTTP/1.1 connections (the server still listens, caps connections and closes):
 * its own connection handler is replaced by one that parses with llhttp and answers with DataResponse.
 * `closeIdleConnections` and `closeAllConnections` reach these connections too. Returns false (and leaves the
 * server as it was) when this Node's parser binding is not the one Sluice knows.
 */
export function serveHttp1(server: Server, o: Http1Options): boolean {
  const l = o.binding === undefined ? llhttp : o.binding;
  if (l === null) return false;
  const nodeHandler = server.listeners('connection')[0] as ((socket: Socket) => void) | undefined;
  if (!nodeHandler) return false;
  const all = new Set<DataConnection>();
  const lean = o.leanRequests === false ? null : leanMethodsOf(l);
  let sweep: TimerHandle | null = null;
  const look = (): void => {
    const now = o.clock.monotonic();
    for (const c of all) c.check(now);
    if (all.size === 0 && sweep !== null) {
      o.clock.clearInterval(sweep);
      sweep = null;
    }
  };
  server.removeListener('connection', nodeHandler);
  server.on('connection', (socket: Socket) => {
    new DataConnection(socket, l, o, all, lean);
    if (sweep === null) sweep = o.clock.setInterval(look, o.checkEveryMs);
  });
  const closeIdle = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    for (const c of all) if (c.idle) c.socket.destroy();
  };
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    for (const c of all) c.socket.destroy();
  };
  server.once('close', () => {
    if (sweep !== null) o.clock.clearInterval(sweep);
    sweep = null;
  });
  return true;
}
