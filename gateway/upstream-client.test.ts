import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { clientResponseHeadersRaw, upstreamDrop, upstreamRequestHeaders, upstreamRequestLines } from './forward-headers.js';
import { MAX_RESPONSE_HEAD_BYTES, UPSTREAM, UpstreamClient, UpstreamError, UpstreamRequest, requestWire, requestWireLines, type ResponseHead } from './upstream-client.js';

interface Outcome {
  status: number;
  raw: string[];
  body: string;
  error: { code: string; message: string } | null;
  /** The head was seen before the failure. */
  headSeen: boolean;
}

/** Records what the client tells a request. */
class Probe extends UpstreamRequest {
  status = 0;
  raw: string[] = [];
  /** What the head gave while it was valid (onHead): the lines passed on, its flags, fields looked up. */
  passed: { lines: string | null; hasDate: boolean; hasLength: boolean; vary: string | undefined; date: string | undefined } | null = null;
  chunks: Buffer[] = [];
  headSeen = false;
  /** Return false from onData (once) to test backpressure. */
  holdFirst = false;
  readonly outcome: Promise<Outcome>;
  private settle!: (o: Outcome) => void;

  constructor(method: string, path: string, timeoutMs: number) {
    super(method, path, timeoutMs);
    this.outcome = new Promise((r) => (this.settle = r));
  }

  onHead(status: number, head: ResponseHead): void {
    this.status = status;
    this.raw = head.raw();
    const lines = head.listsFields ? null : head.passOn();
    this.passed = { lines, hasDate: head.hasDate, hasLength: head.hasLength, vary: head.get('vary'), date: head.get('date') };
    this.headSeen = true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    if (this.holdFirst) {
      this.holdFirst = false;
      return false;
    }
    return true;
  }

  onEnd(): void {
    this.settle({ status: this.status, raw: this.raw, body: Buffer.concat(this.chunks).toString('latin1'), error: null, headSeen: this.headSeen });
  }

  onError(err: Error): void {
    const code = (err as { code?: string }).code ?? 'none';
    this.settle({ status: this.status, raw: this.raw, body: Buffer.concat(this.chunks).toString('latin1'), error: { code, message: err.message }, headSeen: this.headSeen });
  }
}

interface SeenRequest {
  head: string;
  body: string;
  socket: Socket;
  conn: number;
}

interface Replica {
  url: string;
  server: Server;
  connections: number;
  requests: SeenRequest[];
  closedConnections: number;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/**
 * A raw replica: reads HTTP/1.1 requests (content-length bodies) off each connection, in a loop, and lets
 * `answer` write whatever bytes it likes.
 */
async function replica(answer: (r: SeenRequest, n: number) => void): Promise<Replica> {
  const rep: Replica = { url: '', server: createServer(), connections: 0, requests: [], closedConnections: 0 };
  const sockets = new Set<Socket>();
  rep.server.on('connection', (socket) => {
    const conn = ++rep.connections;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      rep.closedConnections++;
    });
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const m = /content-length: (\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        const seen = { head, body: buf.toString('latin1', end + 4, end + 4 + len), socket, conn };
        buf = buf.subarray(end + 4 + len);
        rep.requests.push(seen);
        answer(seen, rep.requests.length);
      }
    });
  });
  await new Promise<void>((r) => rep.server.listen(0, '127.0.0.1', r));
  rep.url = `http://127.0.0.1:${(rep.server.address() as AddressInfo).port}`;
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    rep.server.close();
  });
  return rep;
}

function client(o: { connections?: number; keepAliveTimeoutMs?: number } = {}): UpstreamClient {
  const c = new UpstreamClient({ connections: o.connections ?? 4, keepAliveTimeoutMs: o.keepAliveTimeoutMs ?? 4_000 });
  cleanups.push(() => c.close());
  return c;
}

function send(
  c: UpstreamClient,
  url: string,
  o: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: string; timeoutMs?: number } = {},
): Probe {
  const p = new Probe(o.method ?? 'GET', o.path ?? '/', o.timeoutMs ?? 5_000);
  c.send(url, p, o.headers ?? {}, o.body === undefined ? null : Buffer.from(o.body, 'latin1'));
  return p;
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(5);
  }
}

/** Writes `bytes` one byte per event-loop turn. */
async function dribble(socket: Socket, bytes: string): Promise<void> {
  for (let i = 0; i < bytes.length; i++) {
    socket.write(bytes[i]!, 'latin1');
    await wait(1);
  }
}

describe('UpstreamClient (real sockets, raw replicas)', () => {
  it('sends method, path, host, headers and the body in one request; keeps the connection alive and reuses it', async () => {
    const rep = await replica((r) => r.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${r.body.length + 4}\r\n\r\ngot ${r.body}`, 'latin1'));
    const c = client();
    const first = await send(c, rep.url, { method: 'POST', path: '/v1/models/iris:predict?x=1', headers: { 'x-one': 'a', 'x-many': ['b', 'c'], 'content-length': '999' }, body: 'é{"instances":[1]}' }).outcome;
    expect(first).toMatchObject({ status: 200, body: 'got é{"instances":[1]}', error: null });
    const head = rep.requests[0]!.head.split('\r\n');
    expect(head[0]).toBe('POST /v1/models/iris:predict?x=1 HTTP/1.1');
    expect(head).toContain(`host: ${rep.url.slice('http://'.length)}`);
    expect(head).toContain('x-many: b');
    expect(head).toContain('x-many: c');
    // Its own content-length (the body's), never the caller's.
    expect(head.filter((l) => l.startsWith('content-length'))).toEqual(['content-length: 18']);
    for (let i = 0; i < 4; i++) expect((await send(c, rep.url, { path: `/${i}` }).outcome).status).toBe(200);
    expect(rep.connections).toBe(1);
    expect(rep.requests.map((r) => r.head.split('\r\n')[0])).toEqual(['POST /v1/models/iris:predict?x=1 HTTP/1.1', 'GET /0 HTTP/1.1', 'GET /1 HTTP/1.1', 'GET /2 HTTP/1.1', 'GET /3 HTTP/1.1']);
    // A client's own host header is the one sent.
    await send(c, rep.url, { headers: { host: 'models.example.com' } }).outcome;
    expect(rep.requests[5]!.head.split('\r\n').filter((l) => l.startsWith('host'))).toEqual(['host: models.example.com']);
  });

  it('decodes a chunked answer whose head and body arrive byte by byte (extensions and trailers too), and reuses the connection', async () => {
    const rep = await replica((r, n) => {
      if (n === 1) void dribble(r.socket, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, chunked!\r\n0\r\nx-trailer: t\r\n\r\n');
      else r.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const c = client();
    const got = await send(c, rep.url).outcome;
    expect(got).toMatchObject({ status: 200, body: 'hello, chunked!', error: null });
    expect(got.raw).toEqual(['Transfer-Encoding', 'chunked', 'X-A', '1']);
    expect((await send(c, rep.url).outcome).body).toBe('ok');
    expect(rep.connections).toBe(1);
  });

  it('skips informational answers (100, 103) and tells the final one', async () => {
    const rep = await replica((r) => r.socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nnew'));
    const got = await send(client(), rep.url, { method: 'POST', body: 'x' }).outcome;
    expect(got).toMatchObject({ status: 201, body: 'new', raw: ['content-length', '3'], error: null });
  });

  it('reads a close-delimited answer to its end and does not reuse that connection', async () => {
    const rep = await replica((r) => r.socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end'));
    const c = client();
    expect(await send(c, rep.url).outcome).toMatchObject({ status: 200, body: 'until the end', error: null });
    expect(await send(c, rep.url).outcome).toMatchObject({ status: 200, body: 'until the end', error: null });
    expect(rep.connections).toBe(2);
  });

  it('reads no body after HEAD, 204 and 304 (whatever their content-length says) and reuses the connection', async () => {
    const rep = await replica((r, n) => {
      const status = ['200 OK', '204 No Content', '304 Not Modified'][n - 1]!;
      r.socket.write(`HTTP/1.1 ${status}\r\ncontent-length: 10\r\n\r\n`);
    });
    const c = client();
    expect(await send(c, rep.url, { method: 'HEAD' }).outcome).toMatchObject({ status: 200, body: '', error: null });
    expect(await send(c, rep.url).outcome).toMatchObject({ status: 204, body: '', error: null });
    expect(await send(c, rep.url).outcome).toMatchObject({ status: 304, body: '', error: null });
    expect(rep.connections).toBe(1);
  });

  it('reads a head with the same bytes as the last on its connection as it read that one, framed by its own request, without what a stage added then', async () => {
    const same = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-one: 1\r\ncontent-length: 2\r\n\r\n';
    const rep = await replica((r, n) => {
      if (n === 3) r.socket.write(same); // the answer to HEAD: the same head, no body
      else if (n === 4) r.socket.write(`HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n${same}ok`);
      else if (n === 5) r.socket.write(`${same.replace('x-one: 1', 'connection: close')}ok`);
      else r.socket.write(`${same}ok`);
    });
    const c = client({ connections: 1 });
    class Adding extends Probe {
      override onHead(status: number, head: ResponseHead): void {
        head.add('x-stage', 'a');
        super.onHead(status, head);
      }
    }
    const fields = ['content-type', 'text/plain', 'x-one', '1', 'content-length', '2'];
    const first = new Adding('GET', '/', 5_000);
    c.send(rep.url, first, {}, null);
    expect(await first.outcome).toMatchObject({ status: 200, body: 'ok', raw: fields, error: null });
    expect(first.passed?.lines).toBe('content-type: text/plain\r\nx-one: 1\r\ncontent-length: 2\r\nx-stage: a\r\n');
    const second = send(c, rep.url);
    expect(await second.outcome).toMatchObject({ status: 200, body: 'ok', raw: fields, error: null });
    expect(second.passed).toMatchObject({ lines: 'content-type: text/plain\r\nx-one: 1\r\ncontent-length: 2\r\n', hasLength: true, hasDate: false });
    expect(await send(c, rep.url, { method: 'HEAD' }).outcome).toMatchObject({ status: 200, body: '', raw: fields, error: null });
    // After an informational head the final one is read afresh (the 103's fields are not the answer's).
    expect(await send(c, rep.url).outcome).toMatchObject({ status: 200, body: 'ok', raw: fields, error: null });
    expect(await send(c, rep.url).outcome).toMatchObject({ status: 200, body: 'ok', raw: ['content-type', 'text/plain', 'connection', 'close', 'content-length', '2'], error: null });
    expect(await send(c, rep.url).outcome).toMatchObject({ status: 200, body: 'ok', raw: fields, error: null });
    expect(rep.requests.map((r) => r.conn)).toEqual([1, 1, 1, 1, 1, 2]);
  });

  it('does not reuse a connection whose answer says connection: close', async () => {
    const rep = await replica((r) => r.socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok'));
    const c = client();
    await send(c, rep.url).outcome;
    await send(c, rep.url).outcome;
    expect(rep.connections).toBe(2);
    await until(() => rep.closedConnections === 2, 'both connections closed');
  });

  it('keeps repeated headers and names an object has (constructor) as raw pairs; the client sees them as headers', async () => {
    const rep = await replica((r) => r.socket.write('HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nConstructor: c\r\nConnection: keep-alive, X-Hop\r\nX-Hop: h\r\ncontent-length: 0\r\n\r\n'));
    const probe = send(client(), rep.url);
    const got = await probe.outcome;
    expect(got.raw).toEqual(['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Constructor', 'c', 'Connection', 'keep-alive, X-Hop', 'X-Hop', 'h', 'content-length', '0']);
    expect(clientResponseHeadersRaw(got.raw)).toEqual({ 'set-cookie': ['a=1', 'b=2'], constructor: 'c', 'content-length': '0' });
    // The Connection field names X-Hop: which fields go on is a matter of names, so the head is not passed on as it came.
    expect(probe.passed?.lines).toBeNull();
  });

  it('passes the head on as it came: every line but the hop-by-hop ones, in order and case, flags Date and Content-Length, reads fields', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 07 Dec 2026 01:00:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nVary: Accept\r\nTE: trailers\r\nUPGRADE: h2c\r\nTrailer: x\r\nProxy-Connection: keep-alive\r\nvary:  origin \r\nx-last: 1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nx-only: 1\r\ncontent-length: 2\r\n\r\nok',
    ];
    const rep = await replica((r, n) => r.socket.write(answers[n - 1]!));
    const c = client({ connections: 1 });
    const passed = [];
    for (let i = 0; i < answers.length; i++) {
      const p = send(c, rep.url);
      expect((await p.outcome).body).toBe('ok');
      passed.push(p.passed);
    }
    expect(rep.connections).toBe(1);
    expect(passed).toEqual([
      { lines: 'Content-Type: application/json\r\nDate: Mon, 07 Dec 2026 01:00:00 GMT\r\nContent-Length: 2\r\n', hasDate: true, hasLength: true, vary: undefined, date: 'Mon, 07 Dec 2026 01:00:00 GMT' },
      { lines: 'Vary: Accept\r\nvary:  origin \r\nx-last: 1\r\n', hasDate: false, hasLength: false, vary: 'Accept, origin', date: undefined },
      { lines: 'x-only: 1\r\ncontent-length: 2\r\n', hasDate: false, hasLength: true, vary: undefined, date: undefined },
    ]);
  });

  it.each([
    ['a status line that is not HTTP/1.x', 'HTTP/2 200 OK\r\n\r\n', /status line "HTTP\/2 200 OK" is not HTTP\/1.x/],
    ['an empty head (a blank line where the status line goes)', '\r\n\r\n', /status line "" is not HTTP\/1.x/],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /header line "no colon here" is not valid/],
    ['a folded header line', 'HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded\r\n\r\n', /header line "  folded" is not valid/],
    ['whitespace before a header colon', 'HTTP/1.1 200 OK\r\nx-a : 1\r\n\r\n', /header line "x-a : 1" is not valid/],
    ['a bare LF inside a header value', 'HTTP/1.1 200 OK\r\nx-a: 1\nx-b: 2\r\n\r\n', /header line "x-a: 1\\nx-b: 2" is not valid/],
    ['a control character in a header value', 'HTTP/1.1 200 OK\r\nx-a: a\x01b\r\n\r\n', /header line "x-a: a\\u0001b" is not valid/],
    ['a bare CR before the head ends', 'HTTP/1.1 200 OK\r\nx-a: 1\r\r\n\r\n', /header line "x-a: 1\\r" is not valid/],
    ['a status code that does not start with 1-9', 'HTTP/1.1 099 Odd\r\n\r\n', /status line "HTTP\/1.1 099 Odd" is not HTTP\/1.x/],
    ['a status line without a space before its reason', 'HTTP/1.1 200OK\r\n\r\n', /status line "HTTP\/1.1 200OK" is not HTTP\/1.x/],
    ['two different content-lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab', /content-length "2" is not valid/],
    ['transfer-encoding and content-length', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n', /both transfer-encoding and content-length/],
    ['a trailer line that is not a header', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx-t : 1\r\n\r\n', /a trailer line of the response is not a valid header/],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', /chunk size "zz"/],
  ])('fails with a clear message on %s, and destroys the connection', async (_what, answer, message) => {
    const rep = await replica((r) => r.socket.write(answer));
    const got = await send(client(), rep.url).outcome;
    expect(got.error?.code).toBe(UPSTREAM.MALFORMED);
    expect(got.error?.message).toMatch(message);
    await until(() => rep.closedConnections === 1, 'the connection closed');
  });

  it('takes what RFC 9112 allows: no reason phrase, spaces and tabs around values (trimmed), empty and obs-text values', async () => {
    const rep = await replica((r) => r.socket.write('HTTP/1.0 200\r\nx-a:\t  spaced \t value\t \r\nx-empty:\r\nx-b:   \r\nx-obs: caf\xe9\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok', 'latin1'));
    const c = client();
    const got = await send(c, rep.url).outcome;
    expect(got).toMatchObject({ status: 200, body: 'ok', error: null });
    expect(got.raw).toEqual(['x-a', 'spaced \t value', 'x-empty', '', 'x-b', '', 'x-obs', 'caf\xe9', 'connection', 'keep-alive', 'content-length', '2']);
    // HTTP/1.0 with keep-alive asked for keeps the connection.
    expect(await send(c, rep.url).outcome).toMatchObject({ status: 200, error: null });
    expect(rep.connections).toBe(1);
  });

  it(`fails a response head over ${MAX_RESPONSE_HEAD_BYTES} bytes, naming the limit, whether it comes at once or in pieces`, async () => {
    const big = `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(MAX_RESPONSE_HEAD_BYTES)}\r\n\r\n`;
    const rep = await replica((r, n) => {
      if (n === 1) r.socket.write(big);
      else {
        r.socket.write(big.slice(0, 1000));
        setTimeout(() => r.socket.write(big.slice(1000)), 20);
      }
    });
    for (let i = 0; i < 2; i++) {
      const got = await send(client(), rep.url).outcome;
      expect(got.error?.code).toBe(UPSTREAM.MALFORMED);
      expect(got.error?.message).toContain(`over ${MAX_RESPONSE_HEAD_BYTES} bytes`);
    }
  });

  it('a reset mid-body fails the request after its head was told (the caller cuts its response)', async () => {
    const rep = await replica((r) => {
      r.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
      setTimeout(() => r.socket.resetAndDestroy(), 20);
    });
    const got = await send(client(), rep.url).outcome;
    expect(got.headSeen).toBe(true);
    expect(got.body).toBe('partial');
    expect(got.error?.code).toBe('ECONNRESET');
  });

  it('a replica that closes without answering fails the request (UPSTREAM_CLOSED); a refused connection fails with ECONNREFUSED', async () => {
    const rep = await replica((r) => r.socket.end());
    const got = await send(client(), rep.url).outcome;
    expect(got.error).toEqual({ code: UPSTREAM.CLOSED, message: 'the replica closed the connection without answering' });
    const port = (rep.server.address() as AddressInfo).port;
    await new Promise<void>((r) => rep.server.close(() => r()));
    cleanups.push(() => undefined);
    const refused = await send(client(), `http://127.0.0.1:${port}`).outcome;
    expect(refused.error?.code).toBe('ECONNREFUSED');
  });

  it('an idle connection the replica closes leaves the pool; the next request opens a new one', async () => {
    const rep = await replica((r, n) => {
      r.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n' + String(n));
      if (n === 1) setTimeout(() => r.socket.end(), 20);
    });
    const c = client();
    expect((await send(c, rep.url).outcome).body).toBe('1');
    await until(() => c.pool(rep.url).stats.open === 0, 'the closed connection to leave the pool');
    expect((await send(c, rep.url).outcome).body).toBe('2');
    expect(rep.connections).toBe(2);
  });

  it('closes connections idle for keepAliveTimeoutMs (one timer for the pool)', async () => {
    const rep = await replica((r) => r.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    const c = client({ keepAliveTimeoutMs: 100 });
    await Promise.all([send(c, rep.url).outcome, send(c, rep.url).outcome]);
    expect(c.pool(rep.url).stats.idle).toBe(2);
    await until(() => rep.closedConnections === 2, 'the idle connections to be closed');
    expect(c.pool(rep.url).stats).toEqual({ open: 0, idle: 0, waiting: 0 });
  });

  it('opens at most `connections`, queues up to 4× that in order, refuses beyond with a 503-class error naming the limit', async () => {
    const held: SeenRequest[] = [];
    const rep = await replica((r) => held.push(r));
    const c = client({ connections: 1 });
    const probes = [0, 1, 2, 3, 4].map((i) => send(c, rep.url, { path: `/${i}` }));
    const refused = await send(c, rep.url, { path: '/5' }).outcome;
    expect(refused.error?.code).toBe(UPSTREAM.QUEUE_FULL);
    expect(refused.error?.message).toContain('connectionsPerReplica=1');
    expect(c.pool(rep.url).stats).toEqual({ open: 1, idle: 0, waiting: 4 });
    // Answer each as it comes: they go one after the other on the one connection, oldest first.
    for (let i = 0; i < 5; i++) {
      await until(() => held.length > i, `request ${i}`);
      held[i]!.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${i}`);
    }
    const bodies = await Promise.all(probes.map((p) => p.outcome.then((o) => o.body)));
    expect(bodies).toEqual(['0', '1', '2', '3', '4']);
    expect(rep.requests.map((r) => r.head.split(' ')[1])).toEqual(['/0', '/1', '/2', '/3', '/4']);
    expect(rep.connections).toBe(1);
  });

  it('times out a replica that sends no head, and one whose body stalls, and closes their connections', async () => {
    const rep = await replica((r, n) => {
      if (n === 2) r.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc');
    });
    const c = client();
    const head = await send(c, rep.url, { timeoutMs: 80 }).outcome;
    expect(head.error).toEqual({ code: UPSTREAM.HEADERS_TIMEOUT, message: 'the replica sent no response head within 80 ms' });
    const body = await send(c, rep.url, { timeoutMs: 80 }).outcome;
    expect(body.headSeen).toBe(true);
    expect(body.error).toEqual({ code: UPSTREAM.BODY_TIMEOUT, message: 'the replica sent no response body bytes within 80 ms' });
    await until(() => rep.closedConnections === 2, 'both connections closed');
  });

  it('never times out a replica that keeps sending, however long the answer takes; one that falls silent, within one to two timeouts of its last byte', async () => {
    const T = 150;
    let silentSince = 0;
    const rep = await replica((r, n) => {
      if (n === 1) {
        // Ten bytes, one every T/2.5: the answer takes four timeouts, and no gap reaches one.
        r.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n');
        let sent = 0;
        const tick = setInterval(() => {
          r.socket.write('x');
          if (++sent === 10) clearInterval(tick);
        }, T / 2.5);
      } else {
        // A head and three bytes a little apart, then silence.
        r.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n');
        let sent = 0;
        const tick = setInterval(() => {
          r.socket.write('y');
          silentSince = Date.now();
          if (++sent === 3) clearInterval(tick);
        }, T / 3);
      }
    });
    const c = client();
    const slow = await send(c, rep.url, { timeoutMs: T }).outcome;
    expect(slow).toMatchObject({ status: 200, body: 'xxxxxxxxxx', error: null });
    const stalled = await send(c, rep.url, { timeoutMs: T }).outcome;
    const silence = Date.now() - silentSince;
    expect(stalled.error?.code).toBe(UPSTREAM.BODY_TIMEOUT);
    expect(stalled.body).toBe('yyy');
    expect(silence).toBeGreaterThanOrEqual(T - 5);
    expect(silence).toBeLessThan(2 * T + 100);
  });

  it('times each request on a reused connection from its own start; a finished one never times out the next', async () => {
    const held: SeenRequest[] = [];
    const rep = await replica((r) => held.push(r));
    const c = client({ connections: 1 });
    const answer = (i: number) => held[i]!.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${i}`);
    // 1: answered at once. 2 starts 300 ms later on the same connection and is answered 150 ms after it started:
    // past 1's deadline (400 ms from 1's start), well within its own.
    const first = send(c, rep.url, { path: '/0', timeoutMs: 400 });
    await until(() => held.length === 1, 'request 0');
    answer(0);
    expect((await first.outcome).body).toBe('0');
    await wait(300);
    const second = send(c, rep.url, { path: '/1', timeoutMs: 400 });
    await until(() => held.length === 2, 'request 1');
    await wait(150);
    answer(1);
    expect(await second.outcome).toMatchObject({ body: '1', error: null });
    // The connection stays idle past the deadline the finished request had; the next one is not cut short.
    await wait(450);
    const third = send(c, rep.url, { path: '/2', timeoutMs: 400 });
    await until(() => held.length === 3, 'request 2');
    answer(2);
    expect(await third.outcome).toMatchObject({ body: '2', error: null });
    expect(rep.connections).toBe(1);
  });

  it('times each request out at its own time, in whatever order their timeouts were set, with one timer for the pool', async () => {
    const held: SeenRequest[] = [];
    const rep = await replica((r) => held.push(r));
    const c = client({ connections: 4 });
    const started = Date.now();
    // Set in the order 400, 120, 250, 600 ms; the 600 ms one is answered at 300 ms, after two others timed out.
    const timeouts = [400, 120, 250, 600];
    const probes = timeouts.map((t, i) => send(c, rep.url, { path: `/${i}`, timeoutMs: t }));
    const ended = probes.map((p) => p.outcome.then((o) => ({ o, at: Date.now() - started })));
    await until(() => held.length === 4, 'four requests');
    await wait(300 - (Date.now() - started));
    held.find((r) => r.head.startsWith('GET /3 '))!.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n3');
    const [a, b, d, e] = await Promise.all(ended);
    expect(e!.o).toMatchObject({ body: '3', error: null });
    for (const [i, x] of [a, b, d].entries()) {
      const t = timeouts[[0, 1, 2][i]!]!;
      expect(x!.o.error).toEqual({ code: UPSTREAM.HEADERS_TIMEOUT, message: `the replica sent no response head within ${t} ms` });
      expect(x!.at).toBeGreaterThanOrEqual(t - 2);
      expect(x!.at).toBeLessThan(t + 150);
    }
    expect(b!.at).toBeLessThan(d!.at);
    expect(d!.at).toBeLessThan(a!.at);
  });

  it('times out a request while it waits in the queue for a connection; the one on the connection goes on', async () => {
    const held: SeenRequest[] = [];
    const rep = await replica((r) => held.push(r));
    const c = client({ connections: 1 });
    const busy = send(c, rep.url, { path: '/busy', timeoutMs: 5_000 });
    await until(() => held.length === 1, 'the first request');
    const queued = await send(c, rep.url, { path: '/queued', timeoutMs: 80 }).outcome;
    expect(queued.error).toEqual({ code: UPSTREAM.HEADERS_TIMEOUT, message: 'the replica sent no response head within 80 ms' });
    expect(c.pool(rep.url).stats.waiting).toBe(0);
    held[0]!.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    expect(await busy.outcome).toMatchObject({ body: 'ok', error: null });
  });

  it('a request that waited in the queue keeps its own timeout on the connection it gets, not the deadline of the one before', async () => {
    const held: SeenRequest[] = [];
    const rep = await replica((r) => held.push(r));
    const c = client({ connections: 1 });
    const first = send(c, rep.url, { path: '/first', timeoutMs: 300 });
    const waited = send(c, rep.url, { path: '/waited', timeoutMs: 2_000 });
    await until(() => held.length === 1, 'the first request');
    held[0]!.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1');
    expect((await first.outcome).body).toBe('1');
    // The second runs on the connection past the 300 ms the first had there.
    await until(() => held.length === 2, 'the request that waited');
    await wait(400);
    held[1]!.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n2');
    expect(await waited.outcome).toMatchObject({ body: '2', error: null });
  });

  it('stops reading while the receiver is full (onData false) and goes on after resume()', async () => {
    let socket: Socket | null = null;
    const rep = await replica((r) => {
      socket = r.socket;
      r.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabc');
    });
    const p = new Probe('GET', '/', 5_000);
    p.holdFirst = true;
    client().send(rep.url, p, {}, null);
    await until(() => p.chunks.length === 1, 'the first chunk');
    socket!.write('def');
    await wait(50);
    expect(p.chunks.length).toBe(1);
    p.resume();
    expect(await p.outcome).toMatchObject({ body: 'abcdef', error: null });
  });

  it('chunks handed on stay as they were read: kept by reference across many reads, large and small, and later responses on the connection', async () => {
    // The client reads into a slab of its own (net's onread), one read after another: a chunk it hands on must
    // never be overwritten by a later read. This receiver keeps each chunk as given (no copy) and checks at the end.
    class Keeper extends Probe {
      readonly kept: Buffer[] = [];
      override onData(chunk: Buffer): boolean {
        this.kept.push(chunk);
        return true;
      }
    }
    const pattern = (n: number, seed: number): string => {
      let out = '';
      for (let i = 0; i < n; i++) out += String.fromCharCode(97 + ((i * 7 + seed) % 26));
      return out;
    };
    const bodies = [pattern(300_000, 1), pattern(40, 2), pattern(2_000_000, 3), pattern(5_000, 4)];
    const rep = await replica((r, n) => {
      const body = bodies[n - 1]!;
      if (n === 1) {
        // Many small reads: 1,000 writes of 300 bytes, a turn apart now and then.
        r.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`, 'latin1');
        void (async () => {
          for (let i = 0; i < body.length; i += 300) {
            r.socket.write(body.slice(i, i + 300), 'latin1');
            if (i % 30_000 === 0) await wait(1);
          }
        })();
      } else r.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`, 'latin1');
    });
    const c = client({ connections: 1 });
    const keepers: Keeper[] = [];
    for (const body of bodies) {
      const k = new Keeper('GET', '/', 10_000);
      keepers.push(k);
      c.send(rep.url, k, {}, null);
      await k.outcome;
      expect(Buffer.concat(k.kept).length).toBe(body.length);
    }
    expect(rep.connections).toBe(1);
    // Only now, after every later read on the same connection, compare what each kept chunk holds.
    keepers.forEach((k, i) => expect(Buffer.concat(k.kept).toString('latin1') === bodies[i], `body ${i + 1} intact`).toBe(true));
    expect(keepers[0]!.kept.length).toBeGreaterThan(10);
  });

  it('an early answer (413 and close, the body unread) reaches the caller', async () => {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.end('HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 8\r\n\r\ntoo big!');
        setTimeout(() => socket.destroy(), 5);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const c = client();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (let i = 0; i < 5; i++) {
      const got = await send(c, url, { method: 'POST', body: 'x'.repeat(60_000) }).outcome;
      expect(got).toMatchObject({ status: 413, body: 'too big!', error: null });
    }
  });

  it('a connection whose request is still being written when its answer is complete is not reused (keep-alive or not)', async () => {
    // The replica answers 200 with keep-alive as soon as the head arrives and reads nothing more: 8 MB cannot
    // all be in the kernel's buffers, so the write is still in flight when the answer is complete.
    const conns: Socket[] = [];
    const server = createServer((socket) => {
      conns.push(socket);
      socket.on('error', () => undefined);
      if (conns.length > 1) return; // later connections are answered by the test
      socket.once('data', () => {
        socket.pause();
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nearly');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of conns) s.destroy();
      server.close();
    });
    const c = client({ connections: 1 });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const got = await send(c, url, { method: 'POST', body: 'x'.repeat(8_000_000) }).outcome;
    expect(got).toMatchObject({ status: 200, body: 'early', error: null });
    // The next request goes on a new connection, not behind the unsent rest of the first body.
    const next = send(c, url, { path: '/next' });
    await until(() => conns.length === 2, 'a second connection');
    conns[1]!.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext');
    expect(await next.outcome).toMatchObject({ status: 200, body: 'next', error: null });
  });

  it('refuses a header value with CR/LF before connecting, naming the header', async () => {
    const rep = await replica(() => undefined);
    const got = await send(client(), rep.url, { headers: { 'x-evil': 'a\r\nx-injected: 1' } }).outcome;
    expect(got.error?.code).toBe(UPSTREAM.INVALID_HEADER);
    expect(got.error?.message).toContain('x-evil');
    await wait(20);
    expect(rep.connections).toBe(0);
  });

  it('cancel() fails the request and closes its connection', async () => {
    const rep = await replica(() => undefined);
    const c = client();
    const p = send(c, rep.url);
    await until(() => rep.requests.length === 1, 'the request');
    c.cancel(p, 'client closed the request');
    expect((await p.outcome).error?.code).toBe(UPSTREAM.ABORTED);
    await until(() => rep.closedConnections === 1, 'the connection closed');
  });
});

describe('requestWire with the client\'s strictly parsed headers', () => {
  const client = { host: 'gw:8080', authorization: `Bearer ${'t'.repeat(600)}`, 'user-agent': 'kserve-sdk' };
  const error = (f: () => unknown): UpstreamError => {
    try {
      f();
    } catch (err) {
      return err as UpstreamError;
    }
    throw new Error('no error');
  };

  it('writes the client\'s fields as they came, and checks every field a stage set or changed', () => {
    const wire = requestWire('POST', '/v1/models/m:predict', 'r:9000', { ...client, 'x-sluice-subject': 'alice', 'x-forwarded-for': '10.0.0.1' }, Buffer.from('{}'), client);
    expect(String(wire)).toBe(
      `POST /v1/models/m:predict HTTP/1.1\r\nhost: gw:8080\r\nauthorization: ${client.authorization}\r\nuser-agent: kserve-sdk\r\nx-sluice-subject: alice\r\nx-forwarded-for: 10.0.0.1\r\ncontent-length: 2\r\n\r\n{}`,
    );
    // A value a stage set (say, a subject from a token's claims) is checked although the client's fields are not.
    const set = error(() => requestWire('POST', '/p', 'r:9000', { ...client, 'x-sluice-subject': 'a\r\nx-admin: 1' }, null, client));
    expect(set).toMatchObject({ code: UPSTREAM.INVALID_HEADER });
    expect(set.message).toContain('x-sluice-subject');
    // So is a client's field a stage replaced, and a name the client did not send.
    expect(error(() => requestWire('POST', '/p', 'r:9000', { ...client, 'user-agent': 'x\u0001' }, null, client)).message).toContain('user-agent');
    expect(error(() => requestWire('POST', '/p', 'r:9000', { ...client, 'bad name': 'v' }, null, client)).message).toContain('"bad name"');
    // Without them (node:http's server, or no data port), every field is checked, the client's too.
    expect(error(() => requestWire('POST', '/p', 'r:9000', { 'user-agent': 'x\u0001' }, null)).message).toContain('user-agent');
  });
});

describe('a request written straight from the client\'s fields (no stage sees them) and one built through a header object', () => {
  const request = (headers: Record<string, string | string[]>, remoteAddress: string | undefined = '10.0.0.7'): IncomingMessage =>
    ({ headers, socket: { remoteAddress } }) as unknown as IncomingMessage;
  const heads: Array<[string, Record<string, string | string[]>, string | undefined]> = [
    ['a plain POST', { host: 'gw:8080', 'content-type': 'application/json', 'content-length': '17', 'user-agent': 'wrk' }, '10.0.0.7'],
    ['hop-by-hop fields and those Connection names', { host: 'gw', connection: 'keep-alive, x-hop', 'x-hop': 'h', te: 'trailers', 'keep-alive': 'timeout=5', upgrade: 'h2c', 'x-a': '1' }, '10.0.0.7'],
    ['a proxy in front (X-Forwarded-* set)', { host: 'gw', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' }, '10.0.0.7'],
    ['an empty X-Forwarded-For, and one Connection names', { host: 'gw', 'x-forwarded-for': '', 'x-b': '2' }, '10.0.0.7'],
    ['X-Forwarded-For named by Connection', { host: 'gw', connection: 'x-forwarded-for', 'x-forwarded-for': '203.0.113.9' }, '10.0.0.7'],
    ['no Host (HTTP/1.0) and no address', { accept: '*/*' }, undefined],
    ['repeated fields kept as arrays', { host: 'gw', 'set-cookie': ['a=1', 'b=2'] }, '::1'],
    ['Host named by Connection (the replica\'s goes instead)', { host: 'gw', connection: 'host', 'x-a': '1' }, '10.0.0.7'],
  ];
  it.each(heads)('%s: the same bytes either way', (_what, headers, address) => {
    const r = request(headers, address);
    for (const drop of [null, upstreamDrop(['x-a', 'x-forwarded-host'])]) {
      for (const body of [null, Buffer.from('{"instances":[1]}')]) {
        const viaObject = requestWire('POST', '/v1/models/m:predict', 'replica:9000', upstreamRequestHeaders(r, drop), body, r.headers);
        const viaLines = requestWireLines('POST', '/v1/models/m:predict', upstreamRequestLines(r, drop, 'replica:9000'), body);
        expect(String(viaLines)).toBe(String(viaObject));
      }
    }
  });

  it('refuses a path with a character HTTP forbids, as requestWire does', () => {
    expect(() => requestWireLines('GET', '/a b', 'host: r\r\n', null)).toThrow(/the request path "\/a b" has a character HTTP forbids/);
  });
});
