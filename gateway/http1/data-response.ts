import { EventEmitter } from 'node:events';
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { FIELD_VALUE_FORBIDDEN, HTTP_TOKEN } from '../../core/http-grammar.js';

/** What a response needs from its connection (gateway/http1/data-connection.ts). */
export interface ResponseOwner {
  readonly socket: Socket;
  /** Seconds advertised in `Keep-Alive: timeout=N`. */
  readonly keepAliveSeconds: number;
  /** `res` has written its last byte: the connection moves on to the next response, or closes. */
  finished(res: DataResponse): void;
}

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
/** First body bytes up to this size are copied behind the head and go out with it in one write. */
const HEAD_WITH_BODY_MAX = 16 * 1024;

let dateText = '';
/**
 * The `Date` header's value, made by the first response of a second and dropped by a timer when that second
 * ends, so a response reads no clock (node:http keeps its date the same way). A turn of the event loop that runs
 * past the second's end may still send the second before: late by that turn's length, as node:http's is.
 */
function httpDate(): string {
  if (dateText !== '') return dateText;
  const now = Date.now();
  dateText = new Date(now).toUTCString();
  setTimeout(dropDate, 1000 - (now % 1000)).unref();
  return dateText;
}

function dropDate(): void {
  dateText = '';
}

function invalidHeader(kind: 'name' | 'value', name: string): TypeError {
  return Object.assign(new TypeError(`Invalid character in header ${kind === 'name' ? 'name' : 'content'} ["${name}"]`), {
    code: kind === 'name' ? 'ERR_INVALID_HTTP_TOKEN' : 'ERR_INVALID_CHAR',
  });
}

/**
 * The data port's response to one request: the part of node:http's ServerResponse the gateway uses (`writeHead`,
 * `write`, `end`, `destroy`, `statusCode`, `headersSent`, `shouldKeepAlive`, `writableFinished`, `destroyed`,
 * the `drain`, `finish` and `close` events, `writeContinue`), written straight to the socket.
 *
 * The head is kept as one string and goes out with the first body bytes in one write: copied into one buffer with
 * them when the body has a length and they are small (the usual inference answer: no cork, no tick), else in one
 * `writev` (the socket is corked from the first write until `end`, or the next tick when the body streams). A
 * body without a length is sent chunked to an HTTP/1.1 client, and to an HTTP/1.0 one until the connection closes.
 * A response to a pipelined request that is not at the front of its connection's queue is buffered (its `write`
 * returns false past the socket's high-water mark) until the ones before it are done.
 */
export class DataResponse extends EventEmitter {
  statusCode = 200;
  statusMessage = '';
  /** Keep the connection open after this response (the request's and the client's choice; the gateway may clear it). */
  shouldKeepAlive: boolean;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  /** Whether this response may write to the socket (it is at the front of its connection's queue). */
  attached = false;
  /** Bytes written before the response was attached, in order. */
  private queued: Array<string | Buffer> | null = null;
  private queuedBytes = 0;
  private head = '';
  private headPending = false;
  private chunked = false;
  private hasBody = true;
  private corked = false;
  private needDrain = false;
  /** The connection closes after this response (asked for, or a body framed by the close). */
  last = false;
  /**
   * Aborted when the connection closes before this response finished: the gateway's exchange sets its signal here
   * for the time it is served, in place of a 'close' listener (no closure, no listener to add and remove per request).
   */
  clientGone: { abort(): void } | null = null;

  constructor(
    private readonly owner: ResponseOwner,
    readonly req: IncomingMessage,
    keepAlive: boolean,
  ) {
    super();
    this.shouldKeepAlive = keepAlive;
  }

  get socket(): Socket | null {
    return this.destroyed ? null : this.owner.socket;
  }

  get writableLength(): number {
    return this.queuedBytes;
  }

  writeHead(status: number, reasonOrHeaders?: string | OutgoingHttpHeaders | readonly unknown[], headers?: OutgoingHttpHeaders | readonly unknown[]): this {
    let h = headers;
    if (typeof reasonOrHeaders === 'string') this.statusMessage = reasonOrHeaders;
    else h = reasonOrHeaders;
    let text = this.statusLine(status);
    let sawDate = false;
    let sawLength = false;
    let sawChunked = false;
    const add = (name: string, value: unknown): void => {
      if (value === undefined) return;
      if (!HTTP_TOKEN.test(name)) throw invalidHeader('name', name);
      if (Array.isArray(value)) {
        for (const v of value) add(name, v);
        return;
      }
      const v = String(value);
      if (FIELD_VALUE_FORBIDDEN.test(v)) throw invalidHeader('value', name);
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === 'date') sawDate = true;
          break;
        case 10:
          if (name.toLowerCase() === 'connection') {
            if (/\bclose\b/i.test(v)) this.shouldKeepAlive = false;
            return; // the connection's own header is written below
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') sawLength = true;
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            if (/\bchunked\b/i.test(v)) sawChunked = true;
          }
          break;
      }
      text += `${name}: ${v}${CRLF}`;
    };
    if (Array.isArray(h)) {
      for (let i = 0; i + 1 < h.length; i += 2) add(String(h[i]), h[i + 1]);
    } else if (h) {
      const o = h as OutgoingHttpHeaders;
      for (const name in o) add(name, o[name]);
    }
    return this.endHead(text, sawDate, sawLength, sawChunked);
  }

  /**
   * `writeHead` for field lines already held to HTTP's grammar and ending in CRLF, none of them hop-by-hop, as
   * gateway/upstream-client.ts `ResponseHead.passOn` gives them from the head Sluice's upstream client parsed
   * (which refused any name that is not a token and any value with a control character but HTAB): written as they
   * are, not checked again or gathered into an object. `sawDate`, `sawLength`: a Date, a Content-Length is among them.
   */
  writeHeadLines(status: number, lines: string, sawDate: boolean, sawLength: boolean): this {
    return this.endHead(this.statusLine(status) + lines, sawDate, sawLength, false);
  }

  /** Checks the status (and a reason set in `statusMessage`), takes it, and returns the status line. */
  private statusLine(status: number): string {
    if (this.headersSent) throw Object.assign(new Error('Cannot write headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
    if (this.statusMessage !== '' && FIELD_VALUE_FORBIDDEN.test(this.statusMessage)) throw invalidHeader('value', 'status message');
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw Object.assign(new RangeError(`Invalid status code: ${status}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
    }
    this.statusCode = status;
    this.hasBody = this.bodyAllowed(status);
    return `HTTP/1.1 ${status} ${this.statusMessage || STATUS_CODES[status] || 'unknown'}${CRLF}`;
  }

  /** Adds what the header lines in `text` leave to the connection (Date, framing, Connection) and keeps the head. */
  private endHead(head: string, sawDate: boolean, sawLength: boolean, sawChunked: boolean): this {
    let text = head;
    if (!sawDate) text += `Date: ${httpDate()}${CRLF}`;
    if (sawChunked) this.chunked = this.hasBody;
    else if (!sawLength && this.hasBody) {
      // No length: chunked for HTTP/1.1; an HTTP/1.0 client reads to the close.
      if (this.req.httpVersionMinor === 1 && this.req.httpVersionMajor === 1) {
        this.chunked = true;
        text += `Transfer-Encoding: chunked${CRLF}`;
      } else this.shouldKeepAlive = false;
    }
    if (this.shouldKeepAlive) {
      text += `Connection: keep-alive${CRLF}Keep-Alive: timeout=${this.owner.keepAliveSeconds}${CRLF}`;
    } else {
      this.last = true;
      text += `Connection: close${CRLF}`;
    }
    this.head = text + CRLF;
    this.headPending = true;
    this.headersSent = true;
    return this;
  }

  /** Whether an answer with `status` to this request carries a body (not to HEAD, not 1xx, 204 or 304). */
  private bodyAllowed(status: number): boolean {
    return this.req.method !== 'HEAD' && status !== 204 && status !== 304 && !(status >= 100 && status < 200);
  }

  /** `100 Continue`, for a request that expects it, before the final answer. */
  writeContinue(): void {
    this.out('HTTP/1.1 100 Continue\r\n\r\n');
  }

  write(chunk: string | Buffer | Uint8Array, encoding?: BufferEncoding | (() => void), cb?: () => void): boolean {
    if (typeof encoding === 'function') cb = encoding;
    if (this.writableEnded) throw Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' });
    if (this.destroyed) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const ok = this.body(chunk);
    if (cb) process.nextTick(cb);
    return ok;
  }

  end(chunk?: string | Buffer | Uint8Array | (() => void), encoding?: BufferEncoding | (() => void), cb?: () => void): this {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') cb = encoding;
    if (this.writableEnded) return this;
    if (this.destroyed) return this;
    if (!this.headersSent) {
      const status = this.statusCode;
      // A HEAD answer says the length its GET would have; 1xx, 204 and 304 carry none.
      if (status === 204 || status === 304 || (status >= 100 && status < 200)) this.writeHead(status);
      else {
        const length = chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
        this.writeHead(this.statusCode, ['Content-Length', length]);
      }
    }
    if (chunk !== undefined) this.body(chunk);
    if (this.chunked) this.out(LAST_CHUNK);
    else if (this.headPending) this.out('');
    this.writableEnded = true;
    if (this.attached) this.done();
    if (cb) process.nextTick(cb);
    return this;
  }

  /** Cuts the response: the connection closes (a client cannot tell a cut body from a whole one otherwise). */
  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.owner.socket.destroy(err);
    return this;
  }

  /** Now at the front of its connection's queue: writes what it buffered. */
  attach(): void {
    this.attached = true;
    const q = this.queued;
    if (q !== null) {
      this.queued = null;
      this.queuedBytes = 0;
      const s = this.owner.socket;
      s.cork();
      for (const c of q) s.write(c);
      s.uncork();
    }
    if (this.writableEnded) this.done();
    else if (this.needDrain) this.drained();
  }

  /** The socket drained, or the response was attached with writes waiting for room. */
  drained(): void {
    if (!this.needDrain) return;
    this.needDrain = false;
    this.emit('drain');
  }

  /** The connection closed before the response finished. */
  closed(): void {
    if (this.writableFinished) return;
    this.destroyed = true;
    this.clientGone?.abort();
    this.emit('close');
  }

  private body(chunk: string | Buffer | Uint8Array): boolean {
    if (!this.hasBody) return true;
    const length = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    if (length === 0) return true;
    const data = typeof chunk === 'string' || Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.chunked) {
      this.out(length.toString(16) + CRLF);
      this.out(data);
      return this.out(CRLF);
    }
    if (this.headPending && this.attached && length <= HEAD_WITH_BODY_MAX) return this.headWith(data, length);
    return this.out(data);
  }

  /** The head and the first `length` body bytes copied into one buffer and written at once. */
  private headWith(data: string | Buffer, length: number): boolean {
    this.headPending = false;
    const head = this.head;
    const buf = Buffer.allocUnsafe(head.length + length);
    buf.write(head, 0, 'latin1');
    if (typeof data === 'string') buf.write(data, head.length, 'utf8');
    else data.copy(buf, head.length);
    const ok = this.owner.socket.write(buf);
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** Hands bytes to the socket (the head first), or queues them while another response is in front. */
  private out(data: string | Buffer): boolean {
    if (!this.attached) {
      const q = (this.queued ??= []);
      if (this.headPending) {
        this.headPending = false;
        q.push(Buffer.from(this.head, 'latin1'));
        this.queuedBytes += this.head.length;
      }
      if (data.length > 0) {
        q.push(data);
        this.queuedBytes += data.length;
      }
      if (this.queuedBytes <= this.owner.socket.writableHighWaterMark) return true;
      this.needDrain = true;
      return false;
    }
    const s = this.owner.socket;
    if (this.headPending) {
      this.headPending = false;
      // A head with no body bytes (end() with none, or an answer without a body) needs no cork.
      if (data.length === 0) return s.write(this.head, 'latin1');
      if (!this.corked) {
        this.corked = true;
        s.cork();
        process.nextTick(uncorkSoon, this);
      }
      s.write(this.head, 'latin1');
    }
    if (data.length === 0) return !s.writableNeedDrain;
    const ok = s.write(data);
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** Every byte is with the socket. */
  private done(): void {
    if (this.corked) {
      this.corked = false;
      this.owner.socket.uncork();
    }
    this.writableFinished = true;
    this.owner.finished(this);
    // Most responses have no listener: two emits' lookups (megamorphic loads) spared.
    if ((this as unknown as { _eventsCount: number })._eventsCount === 0) return;
    this.emit('finish');
    this.emit('close');
  }

  /** @internal */
  uncorkNow(): void {
    if (!this.corked) return;
    this.corked = false;
    this.owner.socket.uncork();
  }
}

function uncorkSoon(res: DataResponse): void {
  res.uncorkNow();
}
