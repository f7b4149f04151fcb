import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { FIELD_VALUE_FORBIDDEN, HTTP_TOKEN, TOKEN_CHAR, decimal, nameIs, owsEnd } from '../core/http-grammar.js';
import { keepEarlyAnswers } from './early-answer.js';
import { HOP_BY_HOP, connectionListed, upstreamRequestLines, type PassedHead, type UpstreamDrop } from './forward-headers.js';

/**
 * Sluice's own HTTP/1.1 client to replicas, for requests whose body is in memory or absent (issue 19). A
 * keep-alive pool per replica (`http://` only), one `write` of head and body per request, and a small strict
 * response parser that hands the body on as it arrives. It does less per request than undici's general client
 * (no Request object, header validation objects, wasm parser callbacks, idle-socket `setImmediate`): one
 * `UpstreamRequest` per request, no timer of its own, no promise or closure per chunk. Streamed request bodies stay
 * with undici (gateway/forwarder.ts).
 */

/** Largest response head (status line and headers) read from a replica. */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
/** Largest chunk-size line (with its extensions) of a chunked response. */
const MAX_CHUNK_LINE = 1024;
/**
 * A connection's reads land in a slab of its own, one read after another (`Conn.nextReadBuffer`): a small one
 * while responses are small, a large one once a read filled all the room it had (a big body streams).
 */
const SMALL_SLAB = 16 * 1024;
const LARGE_SLAB = 64 * 1024;
/** A slab with less room left than this is replaced by a new one for the next read. */
const MIN_READ_ROOM = 4 * 1024;

/** A failure of an upstream exchange; `code` is what the forwarder classifies (errno codes pass through). */
export class UpstreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Codes of this client's own failures. */
export const UPSTREAM = {
  /** No response head within the timeout. */
  HEADERS_TIMEOUT: 'UND_ERR_HEADERS_TIMEOUT',
  /** The response body stalled for the timeout. */
  BODY_TIMEOUT: 'UND_ERR_BODY_TIMEOUT',
  /** Cancelled by the caller (the client went away). */
  ABORTED: 'UND_ERR_ABORTED',
  /** The replica closed the connection before the response was complete. */
  CLOSED: 'UPSTREAM_CLOSED',
  /** The replica's response broke HTTP/1.1 (or a limit of this parser). */
  MALFORMED: 'UPSTREAM_MALFORMED',
  /** A header the request was to carry has a character HTTP forbids (CR, LF, NUL...). Nothing was sent. */
  INVALID_HEADER: 'SLUICE_INVALID_HEADER',
  /** Every connection to the replica was busy and its wait queue full. Nothing was sent. */
  QUEUE_FULL: 'SLUICE_UPSTREAM_QUEUE_FULL',
} as const;

/**
 * One request to a replica and what it is told. The caller subclasses it (one object per request); the client
 * calls `onHead` once (final status, and the head: read it there, it is the connection's and is reused), `onData`
 * per body chunk (return false to stop reading until `resume()`), then exactly one of `onEnd` or `onError`.
 */
export abstract class UpstreamRequest {
  /** The connection carrying it, while it does. */
  conn: Conn | null = null;
  /** Set once the first byte of a final response head was parsed. */
  responded = false;
  /** Told (onEnd/onError) already. */
  finished = false;
  /** Stopped by the receiver's backpressure (`onData` returned false): the timeout does not run meanwhile. */
  paused = false;
  /**
   * When its timeout is up (`performance.now()`), while it is in its pool's list of timeouts (`UpstreamPool.arm`);
   * -1 when it is not.
   */
  dueAt = -1;
  /** Links of the pool's list of timeouts, earliest first. */
  prevDue: UpstreamRequest | null = null;
  nextDue: UpstreamRequest | null = null;
  /**
   * Bytes of the response arrived (its head, a body chunk) since its timeout was last set: instead of setting it
   * again on each (a list move and a clock read), the timeout, when it is up, is set once more for the full time. A
   * replica silent for the timeout is then timed out after between one and two timeouts of silence; one that never
   * answered, after exactly one.
   */
  progressed = false;
  /** Links of the pool's wait queue. */
  prevWaiting: UpstreamRequest | null = null;
  nextWaiting: UpstreamRequest | null = null;
  pool: UpstreamPool | null = null;
  /** Head and body as written (built by the client). */
  wire: Buffer | string = '';

  constructor(
    readonly method: string,
    readonly path: string,
    readonly timeoutMs: number,
  ) {}

  abstract onHead(status: number, head: ResponseHead): void;
  abstract onData(chunk: Buffer): boolean;
  abstract onEnd(): void;
  abstract onError(err: UpstreamError | Error): void;

  /** Reading resumes after `onData` returned false. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // The receiver's wait does not count: the timeout starts again.
    if (this.dueAt >= 0) this.pool!.rearm(this, performance.now());
    this.conn?.socket.resume();
  }
}

const BAD_PATH = /[^\x21-\x7e\x80-\xff]/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** Buffer's own latin1 reader, without `toString`'s argument handling in front of it. */
type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * The request's head and body as one buffer (or one string without a body): method, path, `host` (the
 * client's when it sent one), `headers` minus any content-length, then the body's content-length. Throws
 * UpstreamError (INVALID_HEADER) naming a header or the path HTTP forbids. `checked`: the client's headers as
 * a strict parser gave them (Sluice's own data port, which runs llhttp without leniency: it refuses every name and
 * value this function would); a field whose value is the very string found there under the same name is not
 * checked again (a 600-byte token costs ~0.5 µs to scan). Everything else (what a stage set or changed, the
 * X-Forwarded-* fields) is.
 */
export function requestWire(
  method: string,
  path: string,
  hostHeader: string,
  headers: Record<string, string | string[]>,
  body: Buffer | null,
  checked: Readonly<Record<string, string | string[] | undefined>> | null = null,
): Buffer | string {
  checkPath(path);
  let head = `${method} ${path} HTTP/1.1\r\n`;
  let host = false;
  for (const k in headers) {
    if (k === 'content-length') continue;
    if (k === 'host') host = true;
    const v = headers[k];
    // (A name inherited from Object.prototype never holds a string there.)
    const asSent = typeof v === 'string' && checked !== null && checked[k] === v;
    if (!asSent && !HTTP_TOKEN.test(k)) throw new UpstreamError(UPSTREAM.INVALID_HEADER, `the request header name ${JSON.stringify(k)} is not a valid HTTP token`);
    if (typeof v === 'string') {
      if (!asSent && FIELD_VALUE_FORBIDDEN.test(v)) throw badValue(k);
      head += `${k}: ${v}\r\n`;
    } else if (Array.isArray(v)) {
      for (const one of v) {
        if (FIELD_VALUE_FORBIDDEN.test(one)) throw badValue(k);
        head += `${k}: ${one}\r\n`;
      }
    }
  }
  return wireOf(method, head, host ? null : hostHeader, body);
}

/**
 * The wire form of a request whose field lines are written already and need no check (forward-headers.ts
 * `upstreamRequestLines`, from a strict parser's fields): `lines` end in CRLF, carry a Host field and no
 * content-length.
 */
export function requestWireLines(method: string, path: string, lines: string, body: Buffer | null): Buffer | string {
  checkPath(path);
  return wireOf(method, `${method} ${path} HTTP/1.1\r\n` + lines, null, body);
}

function checkPath(path: string): void {
  if (BAD_PATH.test(path)) throw new UpstreamError(UPSTREAM.INVALID_HEADER, `the request path ${JSON.stringify(path)} has a character HTTP forbids`);
}

/** The head's last fields (Host when `hostHeader` is given, the body's length) and the body, after `head`. */
function wireOf(method: string, head: string, hostHeader: string | null, body: Buffer | null): Buffer | string {
  if (hostHeader !== null) head += `host: ${hostHeader}\r\n`;
  if (body !== null) head += `content-length: ${body.length}\r\n\r\n`;
  else head += method === 'POST' || method === 'PUT' || method === 'PATCH' ? 'content-length: 0\r\n\r\n' : '\r\n';
  if (body === null || body.length === 0) return head;
  const n = head.length; // latin1: one byte per character
  const wire = Buffer.allocUnsafe(n + body.length);
  wire.write(head, 0, n, 'latin1');
  body.copy(wire, n);
  return wire;
}

function badValue(name: string): UpstreamError {
  return new UpstreamError(UPSTREAM.INVALID_HEADER, `the request header ${name} has a character HTTP forbids in its value (CR, LF, NUL or another control character)`);
}

/** `s[from, end)` without the spaces and tabs around it (a field's value after its colon). */
function trimmed(s: string, from: number, end: number): string {
  let v = from;
  while (v < end && (s.charCodeAt(v) === 32 || s.charCodeAt(v) === 9)) v++;
  return s.slice(v, owsEnd(s, v, end));
}

/** What a response field's name is, as far as the client and the way on care. */
const enum Field {
  Other,
  ContentLength,
  Date,
  // From here on: fields of this hop (RFC 9110 §7.6.1, and legacy ones), never passed on.
  HopByHop,
  TransferEncoding,
  Connection,
}

/** Longest field name `fieldKind` knows (proxy-authorization). */
const NAMED_MAX = 19;
/**
 * The names `fieldKind` acts on, by length: forward-headers.ts's hop-by-hop ones (the same list the object path
 * drops) and the framing ones, with their kinds.
 */
const NAMED: Array<{ names: string[]; kinds: Field[] }> = Array.from({ length: NAMED_MAX + 1 }, () => ({ names: [], kinds: [] }));
function named(name: string, kind: Field): void {
  if (name.length > NAMED_MAX) throw new Error(`fieldKind knows names up to ${NAMED_MAX} characters, not ${name}`);
  NAMED[name.length]!.names.push(name);
  NAMED[name.length]!.kinds.push(kind);
}
for (const n of HOP_BY_HOP) named(n, n === 'connection' ? Field.Connection : n === 'transfer-encoding' ? Field.TransferEncoding : Field.HopByHop);
named('content-length', Field.ContentLength);
named('date', Field.Date);

/** The kind of the field named `s[at, at + len)` (a token), by its length first: most names are not looked at twice. */
function fieldKind(s: string, at: number, len: number): Field {
  if (len > NAMED_MAX) return Field.Other;
  const { names, kinds } = NAMED[len]!;
  for (let i = 0; i < names.length; i++) if (nameIs(s, at, names[i]!)) return kinds[i]!;
  return Field.Other;
}

/**
 * A replica's response head as the connection parsed it: its text and where each field line lies in it. Nothing
 * is cut out of the text until asked: `raw()` gives the fields as name/value pairs (for a head gathered into an
 * object); `passOn()` the field lines that go on to the client as they came (hop-by-hop ones left out), for a head
 * no stage looks at. One per connection, filled again for each response: read it during `onHead` only.
 */
export class ResponseHead implements PassedHead {
  /** The head's text (latin1): the status line and the field lines, without the blank line that ends it. */
  text = '';
  /** A `Date` field is among them. */
  hasDate = false;
  /** A `Content-Length` field is among them. */
  hasLength = false;
  /**
   * A `Connection` field names fields of this hop besides keep-alive and close: which of the others go on is a
   * matter of their names (`raw()` and forward-headers.ts), not of `passOn()`.
   */
  listsFields = false;
  /** Field lines: 3 numbers each: where the line starts, where it ends (its CR, or the text's end), its kind. */
  private at = new Int32Array(48);
  private count = 0;
  /** Field lines stages added (`add`), each ending in CRLF. */
  private added = '';

  /** @internal A new head, `text`. */
  begin(text: string): void {
    this.text = text;
    this.count = 0;
    this.hasDate = false;
    this.hasLength = false;
    this.listsFields = false;
    this.added = '';
  }

  /** @internal The same head again (the same text, its fields where they were): only what stages added goes. */
  again(): void {
    this.added = '';
  }

  /** @internal One more field line, `text[from, end)`. */
  field(from: number, end: number, kind: Field): void {
    let at = this.at;
    const k = this.count * 3;
    if (k + 3 > at.length) {
      // Bounded by the head's size limit (a field line is at least 3 characters and its CRLF).
      const grown = new Int32Array(at.length * 2);
      grown.set(at);
      this.at = at = grown;
    }
    at[k] = from;
    at[k + 1] = end;
    at[k + 2] = kind;
    this.count++;
  }

  /** The fields as name/value pairs, as the replica sent them (names in its case, values trimmed), in order. */
  raw(): string[] {
    const s = this.text;
    const at = this.at;
    const out: string[] = [];
    for (let k = 0; k < this.count * 3; k += 3) {
      const from = at[k]!;
      const colon = s.indexOf(':', from);
      out.push(s.slice(from, colon), trimmed(s, colon + 1, at[k + 1]!));
    }
    return out;
  }

  /**
   * The field lines that go on to the client, each ending in CRLF: the replica's as they came, without the
   * hop-by-hop ones (Connection, Transfer-Encoding, Keep-Alive...), then those stages added. Not for a head that
   * `listsFields`.
   */
  passOn(): string {
    const s = this.text;
    const at = this.at;
    const n = this.count * 3;
    let out = '';
    let run = -1; // where the current run of lines that go on starts
    let end = 0;
    for (let k = 0; k < n; k += 3) {
      if (at[k + 2]! >= Field.HopByHop) {
        if (run >= 0) out += s.slice(run, end) + '\r\n';
        run = -1;
        continue;
      }
      if (run < 0) run = at[k]!;
      end = at[k + 1]!;
    }
    if (run >= 0) out += s.slice(run, end) + '\r\n';
    return this.added === '' ? out : out + this.added;
  }

  /** The value of the field named `name` (lower case), the values of several joined by ", ", or undefined. */
  get(name: string): string | undefined {
    const s = this.text;
    const at = this.at;
    let found: string | undefined;
    for (let k = 0; k < this.count * 3; k += 3) {
      const from = at[k]!;
      if (s.charCodeAt(from + name.length) !== 58 || !nameIs(s, from, name)) continue;
      const value = trimmed(s, from + name.length + 1, at[k + 1]!);
      found = found === undefined ? value : `${found}, ${value}`;
    }
    return found;
  }

  add(name: string, value: string): void {
    this.added += name + ': ' + value + '\r\n';
  }
}

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

/** One connection to a replica, with its response parser. Its event handlers are bound once, per connection. */
export class Conn {
  readonly socket: Socket;
  req: UpstreamRequest | null = null;
  /** When it last went idle (Date.now()). */
  idleSince = 0;
  private state = State.Head;
  private remaining = 0;
  private keepAlive = true;
  /** A split response head being gathered (allocated only when a head spans reads). */
  private headAcc: Buffer | null = null;
  private headLen = 0;
  /** The last response head parsed (reused: what `onHead` is given). */
  private readonly head = new ResponseHead();
  /**
   * The text of the last final head parsed on this connection, and what it said: a
   * head with exactly the same bytes (a replica answering the same model with an answer of the same length, within
   * the same second of its Date) is not scanned again. Its fields are still where `head` has them. Null when there
   * is none (not '': an empty head, a replica's stray blank line, is read and refused).
   */
  private lastText: string | null = null;
  private lastStatus = 0;
  private lastLength = -1;
  private lastTe = false;
  private lastChunked = false;
  private lastClose = false;
  /** A chunk-size or trailer line spanning reads. */
  private line = '';
  private trailerBytes = 0;
  private crlf = 0;
  private error: Error | null = null;
  /** Where reads land: bytes before `slabUsed` were read (chunks handed on may still hold them), the rest is room. */
  private slab: Buffer | null = null;
  private slabUsed = 0;
  /** The last read filled all the room it was given. */
  private filled = false;

  constructor(readonly pool: UpstreamPool) {
    // Reads go straight into the connection's slab and to `onRead` (net's `onread`): no buffer allocated per read
    // and no stream machinery ('data' events) in between. A region once read into is never read into again.
    const s = connect({ host: pool.host, port: pool.port, noDelay: true, onread: { buffer: this.nextReadBuffer, callback: this.onRead } });
    this.socket = s;
    s.setNoDelay(true);
    keepEarlyAnswers(s);
    s.on('end', this.onEnd);
    s.on('error', this.onSocketError);
    s.on('close', this.onClose);
  }

  /** Sends `r` on this connection. */
  start(r: UpstreamRequest): void {
    this.req = r;
    r.conn = this;
    this.state = State.Head;
    this.keepAlive = true;
    this.headLen = 0;
    // No callback: a write the kernel takes at once then schedules nothing. A failed write reaches
    // onSocketError; one still in flight shows as bytes in writableLength (see complete()).
    if (typeof r.wire === 'string') this.socket.write(r.wire, 'latin1');
    else this.socket.write(r.wire);
    r.wire = '';
  }

  private readonly onSocketError = (err: Error): void => {
    this.error ??= err;
  };

  private readonly onEnd = (): void => {
    const r = this.req;
    if (r !== null && this.state === State.UntilClose) this.complete(r, false);
    // Anything else (a request waiting for its answer, or an idle connection) is settled by 'close'.
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    const r = this.req;
    this.req = null;
    this.pool.closed(this);
    if (r !== null && !r.finished) {
      r.conn = null;
      const e = this.error;
      const code = e && typeof (e as NodeJS.ErrnoException).code === 'string' ? (e as NodeJS.ErrnoException).code! : UPSTREAM.CLOSED;
      const msg = e
        ? `${e.message}${r.responded ? ' (while the response was being read)' : ''}`
        : r.responded
          ? 'the replica closed the connection before the response was complete'
          : 'the replica closed the connection without answering';
      this.pool.finish(r, new UpstreamError(code, msg));
    }
  };

  /** The room for the next read: the rest of the slab, or a new slab when little is left. */
  private readonly nextReadBuffer = (): Buffer => {
    let slab = this.slab;
    if (slab === null || slab.length - this.slabUsed < MIN_READ_ROOM || (this.filled && slab.length < LARGE_SLAB)) {
      slab = this.slab = Buffer.allocUnsafeSlow(this.filled ? LARGE_SLAB : SMALL_SLAB);
      this.slabUsed = 0;
    }
    return slab.subarray(this.slabUsed);
  };

  private readonly onRead = (n: number, room: Buffer): boolean => {
    this.filled = n === room.length;
    this.slabUsed += n;
    this.onData(room.subarray(0, n));
    return true;
  };

  private readonly onData = (chunk: Buffer): void => {
    const r = this.req;
    if (r === null) {
      // Bytes nobody asked for: the connection's framing cannot be trusted any more.
      this.socket.destroy();
      return;
    }
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.req !== r) {
        // The response ended with bytes left over: the replica sent more than one answer.
        this.socket.destroy();
        return;
      }
      switch (this.state) {
        case State.Head:
          off = this.readHead(r, chunk, off);
          break;
        case State.Length:
        case State.ChunkData:
        case State.UntilClose: {
          if (this.state === State.Length && this.remaining === 0) {
            this.complete(r, off === n);
            break;
          }
          let take = n - off;
          if (this.state !== State.UntilClose && take > this.remaining) take = this.remaining;
          const data = off === 0 && take === n ? chunk : chunk.subarray(off, off + take);
          off += take;
          this.remaining -= take;
          r.progressed = true;
          if (!r.onData(data) && !r.finished) {
            r.paused = true;
            this.socket.pause();
          }
          if (r.finished) return; // the receiver gave up (its abort destroyed the socket)
          if (this.remaining === 0) {
            if (this.state === State.Length) this.complete(r, off === n);
            else if (this.state === State.ChunkData) {
              this.state = State.ChunkEnd;
              this.crlf = 0;
            }
          }
          break;
        }
        case State.ChunkEnd: {
          const want = this.crlf === 0 ? 13 : 10;
          if (chunk[off] !== want) return this.malformed(r, 'a chunk of the chunked response body does not end with CRLF');
          off++;
          if (++this.crlf === 2) {
            this.state = State.ChunkSize;
            this.line = '';
          }
          break;
        }
        case State.ChunkSize:
        case State.Trailers:
          off = this.readLine(r, chunk, off);
          break;
      }
      if (off < 0) return;
    }
    if (this.state === State.Length && this.remaining === 0 && this.req === r) this.complete(r, true);
  };

  /** Gathers a chunk-size or trailer line; returns the offset after it (or n), or -1 after a failure. */
  private readLine(r: UpstreamRequest, chunk: Buffer, off: number): number {
    const lf = chunk.indexOf(10, off);
    const end = lf < 0 ? chunk.length : lf;
    this.line += chunk.toString('latin1', off, end);
    const limit = this.state === State.ChunkSize ? MAX_CHUNK_LINE : MAX_RESPONSE_HEAD_BYTES;
    if (this.line.length + this.trailerBytes > limit) {
      this.malformed(r, this.state === State.ChunkSize ? `a chunk-size line of the response is over ${MAX_CHUNK_LINE} bytes` : `the response's trailers are over ${MAX_RESPONSE_HEAD_BYTES} bytes`);
      return -1;
    }
    if (lf < 0) return chunk.length;
    const line = this.line;
    this.line = '';
    if (line.length === 0 || line.charCodeAt(line.length - 1) !== 13) {
      this.malformed(r, 'a line of the chunked response body does not end with CRLF');
      return -1;
    }
    const text = line.slice(0, -1);
    if (this.state === State.ChunkSize) {
      const m = CHUNK_SIZE.exec(text);
      if (m === null) {
        this.malformed(r, `the chunk size ${JSON.stringify(text.slice(0, 40))} of the response is not a hexadecimal number`);
        return -1;
      }
      const size = parseInt(m[1]!, 16);
      if (size === 0) {
        this.state = State.Trailers;
        this.trailerBytes = 0;
      } else {
        this.state = State.ChunkData;
        this.remaining = size;
      }
    } else if (text.length === 0) {
      this.complete(r, lf + 1 === chunk.length);
    } else {
      this.trailerBytes += line.length;
      if (scanHeaderLine(text, 0, text.length) !== text.length) {
        this.malformed(r, 'a trailer line of the response is not a valid header');
        return -1;
      }
    }
    return lf + 1;
  }

  /** Reads (part of) a response head; returns the offset after it (or n), or -1 after a failure. */
  private readHead(r: UpstreamRequest, chunk: Buffer, off: number): number {
    let buf: Buffer;
    let start: number;
    let end: number;
    let consumed: number;
    if (this.headLen === 0) {
      end = chunk.indexOf(HEAD_END, off);
      if (end >= 0 && end - off <= MAX_RESPONSE_HEAD_BYTES) {
        buf = chunk;
        start = off;
        consumed = end + 4;
        return this.parseHead(r, buf, start, end) ? consumed : -1;
      }
    }
    // The head spans reads: gather it (up to the limit) and look for its end across the seam.
    const acc = (this.headAcc ??= Buffer.allocUnsafe(MAX_RESPONSE_HEAD_BYTES + 4));
    const before = this.headLen;
    const copied = chunk.copy(acc, before, off, Math.min(chunk.length, off + acc.length - before));
    this.headLen += copied;
    end = acc.subarray(0, this.headLen).indexOf(HEAD_END, Math.max(0, before - 3));
    if (end < 0 || end > MAX_RESPONSE_HEAD_BYTES) {
      if (this.headLen >= acc.length || end > MAX_RESPONSE_HEAD_BYTES) {
        this.malformed(r, `the response head is over ${MAX_RESPONSE_HEAD_BYTES} bytes`);
        return -1;
      }
      return chunk.length;
    }
    this.headLen = 0;
    this.headAcc = null;
    consumed = off + (end + 4 - before);
    return this.parseHead(r, acc, 0, end) ? consumed : -1;
  }

  /**
   * Parses a head in `buf[start, end)` and tells the request; false after a failure. A hand-written scan of the
   * head's text (no split, no regular expression per line): as strict as RFC 9112 asks of a status line and of
   * header lines (token names, no whitespace before the colon, no obsolete line folding, no control characters
   * but HTAB in values, CRLF line ends).
   */
  private parseHead(r: UpstreamRequest, buf: Buffer, start: number, end: number): boolean {
    const s = (buf as Latin1).latin1Slice(start, end);
    if (s === this.lastText) {
      this.head.again();
      return this.framed(r, this.lastStatus, this.lastLength, this.lastTe, this.lastChunked, this.lastClose);
    }
    this.lastText = null;
    const n = s.length;
    const statusEnd = lineEnd(s, 0);
    const minor = statusLine(s, statusEnd);
    if (minor < 0) {
      this.malformed(r, `the replica's status line ${JSON.stringify(s.slice(0, Math.min(statusEnd, 60)))} is not HTTP/1.x`);
      return false;
    }
    const status = (s.charCodeAt(9) - 48) * 100 + (s.charCodeAt(10) - 48) * 10 + (s.charCodeAt(11) - 48);
    const head = this.head;
    head.begin(s);
    let length = -1;
    let chunked = false;
    let te = false;
    let close = minor === 0;
    let i = statusEnd;
    while (i < n) {
      // `i` is at the CR ending the previous line (lineEnd checked that an LF follows it).
      const from = i + 2;
      const j = scanHeaderLine(s, from, n);
      if (j < 0 || (j < n && (j + 1 >= n || s.charCodeAt(j + 1) !== 10))) {
        const bad = s.slice(from, Math.min(lineEnd(s, from), from + 60));
        this.malformed(r, `the replica's response header line ${JSON.stringify(bad)} is not valid`);
        return false;
      }
      i = j;
      const len = scanned.colon - from;
      const kind = fieldKind(s, from, len);
      head.field(from, j, kind);
      if (kind === Field.Other || kind === Field.HopByHop) continue;
      if (kind === Field.Date) {
        head.hasDate = true;
        continue;
      }
      const value = s.slice(scanned.valueFrom, scanned.valueTo);
      if (kind === Field.ContentLength) {
        const cl = contentLength(value);
        if (cl < 0 || (length >= 0 && cl !== length)) {
          this.malformed(r, `the replica's content-length ${JSON.stringify(value.slice(0, 40))} is not valid`);
          return false;
        }
        length = cl;
        head.hasLength = true;
      } else if (kind === Field.TransferEncoding) {
        te = true;
        chunked = /(?:^|,)[ \t]*chunked[ \t]*$/i.test(value);
      } else {
        // Connection
        const v = value.length <= 10 ? value.toLowerCase() : '';
        if (v === 'keep-alive') {
          if (minor === 0) close = false;
        } else if (v !== 'close') {
          const lower = value.toLowerCase();
          if (lower.includes('close')) close = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/.test(lower) || close;
          if (minor === 0 && /(?:^|,)[ \t]*keep-alive[ \t]*(?:,|$)/.test(lower)) close = false;
          // It names fields of this hop besides keep-alive and close: which fields go on is decided by name.
          if (connectionListed(value) !== null) head.listsFields = true;
        } else close = true;
      }
    }
    if (status < 200) {
      if (status === 101) {
        this.malformed(r, 'the replica switched protocols (101), which was not asked for');
        return false;
      }
      return true; // informational (100, 103): skipped, the final head follows
    }
    if (te && length >= 0) {
      this.malformed(r, 'the replica sent both transfer-encoding and content-length');
      return false;
    }
    this.lastText = s;
    this.lastStatus = status;
    this.lastLength = length;
    this.lastTe = te;
    this.lastChunked = chunked;
    this.lastClose = close;
    return this.framed(r, status, length, te, chunked, close);
  }

  /** A final head's framing (what follows it, whether the connection is kept) set, and the request told. */
  private framed(r: UpstreamRequest, status: number, length: number, te: boolean, chunked: boolean, close: boolean): boolean {
    this.keepAlive = !close;
    r.responded = true;
    if (r.method === 'HEAD' || status === 204 || status === 304) {
      this.state = State.Length;
      this.remaining = 0;
    } else if (te) {
      if (chunked) {
        this.state = State.ChunkSize;
        this.line = '';
      } else {
        this.state = State.UntilClose;
        this.keepAlive = false;
      }
    } else if (length >= 0) {
      this.state = State.Length;
      this.remaining = length;
    } else {
      this.state = State.UntilClose;
      this.keepAlive = false;
    }
    r.progressed = true;
    r.onHead(status, this.head);
    return true;
  }

  private malformed(r: UpstreamRequest, message: string): void {
    this.req = null;
    r.conn = null;
    this.socket.destroy();
    this.pool.finish(r, new UpstreamError(UPSTREAM.MALFORMED, message));
  }

  /** The response is complete: the connection goes back to the pool when it can carry another request. */
  private complete(r: UpstreamRequest, clean: boolean): void {
    this.req = null;
    r.conn = null;
    if (r.paused) {
      r.paused = false;
      this.socket.resume();
    }
    // A connection whose request is not all written yet (the replica answered early) is not reused.
    if (this.keepAlive && clean && this.socket.writableLength === 0 && this.state !== State.UntilClose && !this.socket.destroyed) {
      this.state = State.Head;
      this.pool.release(this);
    } else this.socket.destroy();
    this.pool.finish(r, null);
  }
}

function contentLength(v: string): number {
  const n = decimal(v);
  if (n >= 0) return n;
  // A list of the same length ("5, 5") is tolerated (RFC 9112 §6.3).
  const parts = v.split(',');
  if (parts.length < 2) return -1;
  const first = parts[0]!.trim();
  for (const p of parts) if (p.trim() !== first) return -1;
  return decimal(first);
}


/**
 * Token characters: core/http-grammar.ts's table, held in a module constant as before it moved there (read through
 * the import directly, a together A/B gave 1.011 of CPU per request, less in 1 of 12 pairs; this way 0.989, 8 of 12).
 */
const TCHAR = TOKEN_CHAR;
/** Characters of a header value or reason phrase: HTAB, SP through `~`, obs-text. */
const VCHAR = new Uint8Array(256);
VCHAR[9] = 1;
for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) VCHAR[c] = 1;

/** Where the last `scanHeaderLine` found the colon and the value (trimmed of its surrounding spaces and tabs). */
const scanned = { colon: 0, valueFrom: 0, valueTo: 0 };

/**
 * Scans a header (or trailer) line `name ":" OWS value OWS` starting at `from`, with a token name, no space
 * before the colon, and no control character but HTAB in the value: returns where it ends (the index of the CR
 * that ends it, or `n`), with the colon and the value's bounds in `scanned`; -1 when the line is not one. The
 * caller checks that an LF follows a CR.
 */
function scanHeaderLine(s: string, from: number, n: number): number {
  let j = from;
  while (j < n && TCHAR[s.charCodeAt(j)] === 1) j++;
  if (j === from || j >= n || s.charCodeAt(j) !== 58) return -1;
  scanned.colon = j;
  let c = s.charCodeAt(++j);
  while (j < n && (c === 32 || c === 9)) c = s.charCodeAt(++j);
  const valueFrom = j;
  scanned.valueFrom = j;
  // One table look per character (a CR is not a value character); the trailing spaces are found afterwards.
  while (j < n && VCHAR[s.charCodeAt(j)] === 1) j++;
  if (j < n && s.charCodeAt(j) !== 13) return -1;
  scanned.valueTo = owsEnd(s, valueFrom, j);
  return j;
}

/** Where the line starting at `from` ends: the index of its CR (followed by LF), or the head's end. */
function lineEnd(s: string, from: number): number {
  const cr = s.indexOf('\r\n', from);
  return cr < 0 ? s.length : cr;
}

/**
 * The minor version (0 or 1) of a status line `s[0, end)` of the form `HTTP/1.x ddd[ reason]` (the first digit
 * 1-9, the reason HTAB/visible/obs-text), or -1.
 */
function statusLine(s: string, end: number): number {
  if (end < 12 || !s.startsWith('HTTP/1.')) return -1;
  const minor = s.charCodeAt(7) - 48;
  if ((minor !== 0 && minor !== 1) || s.charCodeAt(8) !== 32) return -1;
  const d0 = s.charCodeAt(9);
  const d1 = s.charCodeAt(10);
  const d2 = s.charCodeAt(11);
  if (d0 < 49 || d0 > 57 || d1 < 48 || d1 > 57 || d2 < 48 || d2 > 57) return -1;
  if (end === 12) return minor;
  if (s.charCodeAt(12) !== 32) return -1;
  for (let i = 13; i < end; i++) if (VCHAR[s.charCodeAt(i)] !== 1) return -1;
  return minor;
}

export interface UpstreamPoolOptions {
  /** Connections at most; requests beyond wait in a FIFO of `connections * 4`. */
  connections: number;
  /** An idle connection is closed after this long. */
  keepAliveTimeoutMs: number;
}

/** The connections to one replica: LIFO idle list, a bounded FIFO of waiting requests, one keep-alive timer. */
export class UpstreamPool {
  readonly host: string;
  readonly port: number;
  readonly hostHeader: string;
  private readonly idle: Conn[] = [];
  private open = 0;
  private waitHead: UpstreamRequest | null = null;
  private waitTail: UpstreamRequest | null = null;
  private waiting = 0;
  private readonly maxWaiting: number;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closing = false;
  /**
   * The requests with a timeout, earliest due first, and one timer for them all (in place of a timer per request,
   * set and cleared on every request: a `Timeout` object, its list's insert and removal, a binding call for the
   * loop's time). The timer is set for the earliest due time when one is added before it; a request that ends
   * only leaves the list, and a timer that finds nothing due sets itself for the new earliest. With every request
   * on the same timeout that is one timer event per timeout period, whatever the rate. Unreferenced: the sockets
   * of the requests in flight keep the process alive, and an empty list must not.
   */
  private dueHead: UpstreamRequest | null = null;
  private dueTail: UpstreamRequest | null = null;
  private dueTimer: NodeJS.Timeout | null = null;
  /** When the timer is set to fire (`performance.now()`); Infinity when not set, -Infinity while it runs. */
  private dueTimerAt = Infinity;

  constructor(
    url: URL,
    private readonly o: UpstreamPoolOptions,
  ) {
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port === '' ? 80 : Number(url.port);
    this.hostHeader = url.host;
    this.maxWaiting = o.connections * 4;
  }

  /** Connections open (busy or idle), and idle ones. */
  get stats(): { open: number; idle: number; waiting: number } {
    return { open: this.open, idle: this.idle.length, waiting: this.waiting };
  }

  /** Sends `r` (its `wire` built): on an idle connection, a new one, or after those ahead of it in the queue. */
  submit(r: UpstreamRequest): void {
    r.pool = this;
    if (r.timeoutMs > 0) this.arm(r, performance.now());
    if (this.closing) {
      this.finish(r, new UpstreamError(UPSTREAM.CLOSED, 'the connection pool to the replica was closed'));
      return;
    }
    const idle = this.idle.pop();
    if (idle !== undefined) idle.start(r);
    else if (this.open < this.o.connections) {
      this.open++;
      new Conn(this).start(r);
    } else if (this.waiting < this.maxWaiting) {
      r.prevWaiting = this.waitTail;
      if (this.waitTail) this.waitTail.nextWaiting = r;
      else this.waitHead = r;
      this.waitTail = r;
      this.waiting++;
    } else
      this.finish(
        r,
        new UpstreamError(
          UPSTREAM.QUEUE_FULL,
          `all ${this.o.connections} connections to the replica are busy and ${this.maxWaiting} requests wait for one already (connectionsPerReplica=${this.o.connections}, queue 4× that)`,
        ),
      );
  }

  /** Ends `r` early with `err` (timeout, cancel): its connection, if it has one, is closed. */
  abandon(r: UpstreamRequest, err: UpstreamError): void {
    if (r.finished) return;
    const c = r.conn;
    if (c !== null) {
      c.req = null;
      r.conn = null;
      c.socket.destroy();
    } else this.unqueue(r);
    this.finish(r, err);
  }

  /** Tells `r` how it ended (once) and stops its timer. */
  finish(r: UpstreamRequest, err: Error | null): void {
    if (r.finished) return;
    r.finished = true;
    if (r.dueAt >= 0) this.disarm(r);
    if (err === null) r.onEnd();
    else r.onError(err);
  }

  /** A connection is free: the oldest waiting request takes it, or it goes idle. */
  release(c: Conn): void {
    if (this.closing) {
      c.socket.destroy();
      return;
    }
    const next = this.waitHead;
    if (next !== null) {
      this.unqueue(next);
      c.start(next);
      return;
    }
    c.idleSince = Date.now();
    this.idle.push(c);
    if (this.sweepTimer === null) this.armSweep(this.o.keepAliveTimeoutMs);
  }

  /** A connection closed (by either side): it leaves the idle list, and a waiting request may open another. */
  closed(c: Conn): void {
    this.open--;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    const next = this.waitHead;
    if (next !== null && !this.closing && this.open < this.o.connections) {
      this.unqueue(next);
      this.open++;
      new Conn(this).start(next);
    }
  }

  /** Closes every connection; waiting requests fail. */
  close(): void {
    this.closing = true;
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    for (let r = this.waitHead; r !== null; r = this.waitHead) {
      this.unqueue(r);
      this.finish(r, new UpstreamError(UPSTREAM.CLOSED, 'the connection pool to the replica was closed'));
    }
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }

  /** Puts `r` in the list of timeouts, due `r.timeoutMs` after `now`. */
  private arm(r: UpstreamRequest, now: number): void {
    const at = now + r.timeoutMs;
    r.dueAt = at;
    // From the end: with equal timeouts a new one is due last.
    let p = this.dueTail;
    while (p !== null && p.dueAt > at) p = p.prevDue;
    const next = p === null ? this.dueHead : p.nextDue;
    r.prevDue = p;
    r.nextDue = next;
    if (p === null) this.dueHead = r;
    else p.nextDue = r;
    if (next === null) this.dueTail = r;
    else next.prevDue = r;
    if (at < this.dueTimerAt) this.setDueTimer(at, now);
  }

  /** Takes `r` out of the list of timeouts. */
  private disarm(r: UpstreamRequest): void {
    const { prevDue: p, nextDue: n } = r;
    if (p === null) this.dueHead = n;
    else p.nextDue = n;
    if (n === null) this.dueTail = p;
    else n.prevDue = p;
    r.prevDue = r.nextDue = null;
    r.dueAt = -1;
  }

  /** `r`'s timeout starts again at `now`. */
  rearm(r: UpstreamRequest, now: number): void {
    this.disarm(r);
    this.arm(r, now);
  }

  private setDueTimer(at: number, now: number): void {
    if (this.dueTimer !== null) clearTimeout(this.dueTimer);
    this.dueTimerAt = at;
    // Node's timers fire at whole milliseconds of the loop's time, which may lag `now`: one that fires a little
    // early finds nothing due and sets itself again for the rest.
    this.dueTimer = setTimeout(this.expire, Math.max(1, Math.ceil(at - now)));
    this.dueTimer.unref();
  }

  /** The timer: every request due is timed out (or, having progressed or waited on its receiver, set again). */
  private readonly expire = (): void => {
    this.dueTimer = null;
    // New timeouts added meanwhile (a retry in a callback) do not set the timer: it is set once, below.
    this.dueTimerAt = -Infinity;
    const now = performance.now();
    for (let r = this.dueHead; r !== null && r.dueAt <= now; r = this.dueHead) {
      this.disarm(r);
      if (r.paused || r.progressed) {
        // The receiver is slow, not the replica; or the replica sent something since the timeout was set.
        r.progressed = false;
        this.arm(r, now);
        continue;
      }
      const code = r.responded ? UPSTREAM.BODY_TIMEOUT : UPSTREAM.HEADERS_TIMEOUT;
      const what = r.responded ? 'sent no response body bytes' : 'sent no response head';
      this.abandon(r, new UpstreamError(code, `the replica ${what} within ${r.timeoutMs} ms`));
    }
    this.dueTimerAt = Infinity;
    const head = this.dueHead;
    // Also once closing: requests still in flight on busy connections keep their timeouts.
    if (head !== null) this.setDueTimer(head.dueAt, now);
  };

  private unqueue(r: UpstreamRequest): void {
    if (r.prevWaiting) r.prevWaiting.nextWaiting = r.nextWaiting;
    else if (this.waitHead === r) this.waitHead = r.nextWaiting;
    else return;
    if (r.nextWaiting) r.nextWaiting.prevWaiting = r.prevWaiting;
    else this.waitTail = r.prevWaiting;
    r.prevWaiting = r.nextWaiting = null;
    this.waiting--;
  }

  private armSweep(ms: number): void {
    this.sweepTimer = setTimeout(this.sweep, Math.max(1, ms));
    this.sweepTimer.unref();
  }

  /** Closes the connections idle for the keep-alive timeout (the oldest sit at the bottom of the LIFO). */
  private readonly sweep = (): void => {
    this.sweepTimer = null;
    const now = Date.now();
    const limit = this.o.keepAliveTimeoutMs;
    let expired = 0;
    while (expired < this.idle.length && now - this.idle[expired]!.idleSince >= limit) expired++;
    for (const c of this.idle.splice(0, expired)) c.socket.destroy();
    if (this.idle.length > 0) this.armSweep(limit - (now - this.idle[0]!.idleSince));
  };
}

/** Pools per replica URL. */
export class UpstreamClient {
  private readonly pools = new Map<string, UpstreamPool>();

  constructor(private readonly o: UpstreamPoolOptions) {}

  pool(baseUrl: string): UpstreamPool {
    let p = this.pools.get(baseUrl);
    if (p === undefined) {
      p = new UpstreamPool(new URL(baseUrl), this.o);
      this.pools.set(baseUrl, p);
    }
    return p;
  }

  /**
   * Builds `r`'s wire form and sends it; an invalid header fails `r` (onError) without sending anything.
   * `checked`: the client's headers from a strict parser (requestWire).
   */
  send(baseUrl: string, r: UpstreamRequest, headers: Record<string, string | string[]>, body: Buffer | null, checked: Readonly<Record<string, string | string[] | undefined>> | null = null): void {
    const p = this.pool(baseUrl);
    try {
      r.wire = requestWire(r.method, r.path, p.hostHeader, headers, body, checked);
    } catch (err) {
      return unsent(r, err);
    }
    p.submit(r);
  }

  /**
   * `send` for a request whose fields a strict parser gave and no stage changes: they are written straight from
   * the client's (`upstreamRequestLines`, leaving out `drop`'s), not checked again.
   */
  sendClientFields(baseUrl: string, r: UpstreamRequest, req: IncomingMessage, drop: UpstreamDrop | null, body: Buffer | null): void {
    const p = this.pool(baseUrl);
    try {
      r.wire = requestWireLines(r.method, r.path, upstreamRequestLines(req, drop, p.hostHeader), body);
    } catch (err) {
      return unsent(r, err);
    }
    p.submit(r);
  }

  /** Cancels `r` (the client went away): its connection is closed. */
  cancel(r: UpstreamRequest, message: string): void {
    r.pool?.abandon(r, new UpstreamError(UPSTREAM.ABORTED, message));
  }

  /** Closes a replica's idle connections and drops its pool (busy ones finish their request, then close). */
  forget(baseUrl: string): void {
    const p = this.pools.get(baseUrl);
    if (p === undefined) return;
    this.pools.delete(baseUrl);
    p.close();
  }

  close(): void {
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }
}

/** `r` could not be sent (its head broke HTTP's grammar): it fails, nothing reached the replica. */
function unsent(r: UpstreamRequest, err: unknown): void {
  r.finished = true;
  r.onError(err as Error);
}
