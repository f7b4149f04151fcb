import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataResponse } from './data-response.js';

/** A socket that records each write (as bytes) and whether it was corked then. */
function recordingSocket() {
  const writes: Array<{ bytes: Buffer; corked: boolean }> = [];
  let corks = 0;
  let uncorked = 0;
  const socket = {
    writableHighWaterMark: 16 * 1024,
    writableNeedDrain: false,
    write(chunk: string | Buffer, encoding?: BufferEncoding): boolean {
      writes.push({ bytes: typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : Buffer.from(chunk), corked: corks > uncorked });
      return true;
    },
    cork(): void {
      corks++;
    },
    uncork(): void {
      uncorked++;
    },
    destroy(): void {},
  };
  return { socket: socket as unknown as Socket, writes, corkState: () => ({ corks, uncorked }) };
}

function response(method = 'POST') {
  const rec = recordingSocket();
  const finished: DataResponse[] = [];
  const req = { method, httpVersionMajor: 1, httpVersionMinor: 1 } as IncomingMessage;
  const res = new DataResponse({ socket: rec.socket, keepAliveSeconds: 5, finished: (r) => finished.push(r) }, req, true);
  res.attached = true;
  return { res, finished, ...rec };
}

const wire = (writes: Array<{ bytes: Buffer }>): string => Buffer.concat(writes.map((w) => w.bytes)).toString('latin1');

describe('DataResponse: how the head reaches the socket', () => {
  it('a length-framed answer with a small body goes out as one write of head and body, nothing corked', () => {
    const { res, writes, corkState, finished } = response();
    res.writeHeadLines(200, 'content-type: application/json\r\ncontent-length: 17\r\n', false, true);
    res.write(Buffer.from('{"predictions":[1'));
    res.end();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.corked).toBe(false);
    expect(corkState()).toEqual({ corks: 0, uncorked: 0 });
    const text = wire(writes);
    expect(text.startsWith('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\nDate: ')).toBe(true);
    expect(text.endsWith('\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n{"predictions":[1')).toBe(true);
    expect(finished).toEqual([res]);
  });

  it("emits 'finish' then 'close' once its last byte is with the socket, to listeners added before or during the answer", () => {
    const { res } = response();
    const events: string[] = [];
    res.on('finish', () => events.push(`finish ${res.writableFinished}`));
    res.writeHead(200, { 'content-length': '2' });
    res.once('close', () => events.push('close'));
    expect(events).toEqual([]);
    res.end('ok');
    expect(events).toEqual(['finish true', 'close']);
    // One without listeners finishes the same way (nothing to tell).
    const quiet = response();
    quiet.res.end('ok');
    expect(quiet.res.writableFinished).toBe(true);
    expect(quiet.finished).toEqual([quiet.res]);
  });

  it('end(text) with characters of two and three UTF-8 bytes: the length header and the bytes after the head agree', () => {
    const { res, writes } = response();
    const body = 'naïve → ok';
    res.end(body);
    expect(writes).toHaveLength(1);
    const bytes = writes[0]!.bytes;
    const headEnd = bytes.indexOf('\r\n\r\n') + 4;
    expect(bytes.subarray(0, headEnd).toString('latin1')).toContain(`Content-Length: ${Buffer.byteLength(body)}\r\n`);
    expect(bytes.subarray(headEnd).toString('utf8')).toBe(body);
  });

  it('a body larger than 16 KiB is not copied behind the head: head and body are written corked, then uncorked at end', () => {
    const { res, writes, corkState } = response();
    const body = Buffer.alloc(20 * 1024, 0x61);
    res.writeHeadLines(200, `content-length: ${body.length}\r\n`, false, true);
    res.write(body);
    res.end();
    expect(writes.map((w) => w.corked)).toEqual([true, true]);
    expect(writes[1]!.bytes.equals(body)).toBe(true);
    expect(corkState()).toEqual({ corks: 1, uncorked: 1 });
  });

  it('a chunked answer keeps its size line, data and CRLF corked together behind the head', () => {
    const { res, writes, corkState } = response();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('abc');
    res.end();
    expect(writes.every((w) => w.corked)).toBe(true);
    expect(corkState()).toEqual({ corks: 1, uncorked: 1 });
    expect(wire(writes).endsWith('\r\n\r\n3\r\nabc\r\n0\r\n\r\n')).toBe(true);
  });

  it('an answer with no body bytes (a HEAD, or end() with none) writes its head once, uncorked', () => {
    const head = response('HEAD');
    head.res.writeHeadLines(200, 'content-length: 42\r\n', false, true);
    head.res.end();
    const empty = response();
    empty.res.writeHeadLines(200, 'content-length: 0\r\n', false, true);
    empty.res.end();
    for (const r of [head, empty]) {
      expect(r.writes).toHaveLength(1);
      expect(r.corkState()).toEqual({ corks: 0, uncorked: 0 });
      expect(wire(r.writes).endsWith('\r\n\r\n')).toBe(true);
    }
  });
});

describe('DataResponse: the Date header', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('carries the second it is sent in: made once per second, dropped when the second ends', async () => {
    vi.useFakeTimers({ now: Date.parse('2027-03-01T10:00:00.400Z'), toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    // A module of its own: no date kept from another test's responses.
    vi.resetModules();
    const fresh = (await import('./data-response.js')).DataResponse;
    const dateOf = (): string => {
      const rec = recordingSocket();
      const req = { method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1 } as IncomingMessage;
      const res = new fresh({ socket: rec.socket, keepAliveSeconds: 5, finished: () => undefined }, req, true);
      res.attached = true;
      res.end('ok');
      return /\r\nDate: ([^\r]*)\r\n/.exec(wire(rec.writes))?.[1] ?? 'none';
    };
    expect(dateOf()).toBe('Mon, 01 Mar 2027 10:00:00 GMT');
    vi.advanceTimersByTime(599);
    expect(dateOf()).toBe('Mon, 01 Mar 2027 10:00:00 GMT');
    vi.advanceTimersByTime(1);
    expect(dateOf()).toBe('Mon, 01 Mar 2027 10:00:01 GMT');
    // A quiet spell: the first answer after it has the time it is sent at.
    vi.advanceTimersByTime(61_250);
    expect(dateOf()).toBe('Mon, 01 Mar 2027 10:01:02 GMT');
    vi.advanceTimersByTime(749);
    expect(dateOf()).toBe('Mon, 01 Mar 2027 10:01:02 GMT');
    vi.advanceTimersByTime(1);
    expect(dateOf()).toBe('Mon, 01 Mar 2027 10:01:03 GMT');
  });
});
