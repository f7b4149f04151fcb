/**
 * The fast path's parser alone: which requests it takes (and what it reads from them), and that it leaves every
 * other to llhttp (null). That both read the requests it takes the same way, over real sockets, is
 * data-connection.test.ts's "the fast path against llhttp".
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../autoscaler/simulator/synthetic.js';
import { leanRequest } from './lean-head.js';
import { bindingOf } from './llhttp.js';

const METHODS = new Map([
  ['GET', 1],
  ['POST', 3],
  ['PUT', 4],
]);
const take = (text: string, start = 0, maxHead = 8192) => {
  const r = leanRequest(Buffer.from(text, 'latin1'), start, maxHead, METHODS);
  return r === null ? null : { ...r, headers: [...r.headers] };
};

describe('leanRequest takes', () => {
  it('a POST with a body: method number, URL, headers as sent (values trimmed), where the body is', () => {
    const head = 'POST /v1/models/m:predict?x=1 HTTP/1.1\r\nHost: t\r\nX-A: \t a b \t\r\nContent-Length: 3\r\n\r\n';
    expect(take(`${head}abcGET`)).toEqual({
      method: 3,
      url: '/v1/models/m:predict?x=1',
      headers: ['Host', 't', 'X-A', 'a b', 'Content-Length', '3'],
      bodyFrom: head.length,
      bodyLength: 3,
      minor: 1,
      keepAlive: true,
    });
  });

  it('a request that starts later in the buffer, with no headers and no body', () => {
    expect(take('xxGET / HTTP/1.1\r\n\r\n', 2)).toEqual({ method: 1, url: '/', headers: [], bodyFrom: 20, bodyLength: 0, minor: 1, keepAlive: true });
  });

  it('Connection: keep-alive in any case, and an empty value', () => {
    const r = take('PUT /a HTTP/1.1\r\nConnection: KEEP-alive\r\nX-E:\r\n\r\n');
    expect(r?.headers).toEqual(['Connection', 'KEEP-alive', 'X-E', '']);
    expect(r?.keepAlive).toBe(true);
  });

  it('Connection: close in any case ends the connection, also beside a keep-alive line', () => {
    expect(take('GET / HTTP/1.1\r\nHost: t\r\nConnection: Close\r\n\r\n')).toMatchObject({ headers: ['Host', 't', 'Connection', 'Close'], keepAlive: false });
    expect(take('GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n')?.keepAlive).toBe(false);
    expect(take('GET / HTTP/1.1\r\nConnection: keep-alive\r\nconnection: CLOSE\r\n\r\n')?.keepAlive).toBe(false);
    // The object is reused: a request after it without Connection keeps its connection.
    expect(take('GET / HTTP/1.1\r\nHost: t\r\n\r\n')?.keepAlive).toBe(true);
  });

  it('HTTP/1.0: the connection stays open only with Connection: keep-alive, which wins over close', () => {
    expect(take('POST /a HTTP/1.0\r\nContent-Length: 2\r\n\r\nab')).toMatchObject({ minor: 0, keepAlive: false, bodyLength: 2 });
    expect(take('GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n')).toMatchObject({ minor: 0, keepAlive: true });
    expect(take('GET /a HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n')?.keepAlive).toBe(true);
    expect(take('GET /a HTTP/1.1\r\n\r\n')).toMatchObject({ minor: 1, keepAlive: true });
  });
});

describe('leanRequest leaves to llhttp (null)', () => {
  const refused: Record<string, string> = {
    'a head not complete in the buffer': 'GET / HTTP/1.1\r\nHost: t\r\n',
    'a body not complete in the buffer': 'POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabc',
    'a method not in its table': 'DELETE / HTTP/1.1\r\n\r\n',
    'HTTP/1.2': 'GET / HTTP/1.2\r\n\r\n',
    'HTTP/2.0': 'GET / HTTP/2.0\r\n\r\n',
    'HTTP/1.10': 'GET / HTTP/1.10\r\n\r\n',
    'Connection: keep-alive with a tab after it': 'GET / HTTP/1.0\r\nConnection: keep-alive\t\r\n\r\n',
    'a target not starting with /': 'GET * HTTP/1.1\r\n\r\n',
    'a # in the target': 'GET /a#b HTTP/1.1\r\n\r\n',
    'a bare LF': 'GET / HTTP/1.1\nHost: t\r\n\r\n',
    'obs-fold': 'GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n',
    'a space before a colon': 'GET / HTTP/1.1\r\nX-A : a\r\n\r\n',
    'obs-text in a value': 'GET / HTTP/1.1\r\nX-A: \xe9\r\n\r\n',
    'a control byte in a value': 'GET / HTTP/1.1\r\nX-A: \x01\r\n\r\n',
    'Transfer-Encoding': 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'Upgrade': 'GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n',
    'a Connection list (keep-alive, close)': 'GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n',
    'Connection: upgrade': 'GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n',
    'Connection: close with a tab after it (llhttp keeps that connection open)': 'GET / HTTP/1.1\r\nConnection: close\t\r\n\r\n',
    'two Content-Lengths': 'POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\na',
    'a Content-Length that is not digits': 'POST / HTTP/1.1\r\nContent-Length: 0x1\r\n\r\na',
    'a Content-Length of 16 digits': 'POST / HTTP/1.1\r\nContent-Length: 0000000000000001\r\n\r\na',
    'a tab after the Content-Length (llhttp refuses it)': 'POST / HTTP/1.1\r\nContent-Length: 1\t\r\n\r\na',
  };
  for (const [name, text] of Object.entries(refused)) it(name, () => expect(take(text)).toBe(null));

  it('a head longer than maxHead', () => {
    const text = 'GET / HTTP/1.1\r\nX-A: aaaa\r\n\r\n';
    expect(take(text, 0, text.length)).not.toBe(null);
    expect(take(text, 0, text.length - 1)).toBe(null);
  });
});

describe('leanRequest against llhttp on mutated requests', () => {
  /**
   * Requests made by mutating valid ones at random (seeded, so a failure repeats): wherever the fast
   * path takes one, llhttp, parsing the same bytes alone, must read the same method, URL, version, headers and
   * body, with the message ending at exactly the same byte, the same keep-alive and no upgrade. Where they differ,
   * the fast path would read a request other than the one node:http reads.
   */
  const l = bindingOf(createRequire(import.meta.url)('_http_common'))!;
  const methods = new Map(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'].map((m) => [m, l.methods.indexOf(m)]));

  interface Parsed {
    method: number;
    url: string;
    headers: string[];
    body: string;
    major: number;
    minor: number;
    upgrade: boolean;
    keepAlive: boolean;
    complete: boolean;
    error: string | null;
  }

  /** What llhttp makes of `bytes` alone: the first request, as far as it got. */
  function llhttpReads(bytes: Buffer): Parsed | null {
    const p = new l.Parser();
    p.initialize(l.REQUEST, {}, 16_384, 0);
    let got: Parsed | null = null;
    const partHeaders: string[] = [];
    let partUrl = '';
    p[l.kOnHeaders] = (h: string[], url: string) => {
      partHeaders.push(...h);
      partUrl += url;
    };
    p[l.kOnHeadersComplete] = (major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, _s: unknown, _m: unknown, upgrade: boolean, keepAlive: boolean) => {
      if (got !== null) return 0;
      got = { method, url: url ?? partUrl, headers: headers ?? partHeaders, body: '', major, minor, upgrade, keepAlive, complete: false, error: null };
      return 0;
    };
    p[l.kOnBody] = (b: Buffer) => {
      if (got !== null && !got.complete) got.body += b.toString('latin1');
    };
    p[l.kOnMessageComplete] = () => {
      if (got !== null) got.complete = true;
    };
    const ret = p.execute(bytes);
    if (typeof ret !== 'number' && got !== null && !(got as Parsed).complete) (got as Parsed).error = ret.code ?? 'error';
    p.close();
    return got;
  }

  const SEEDS = [
    'POST /v1/models/m:predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"a":[1]}',
    'GET /v2/models/m/ready?x=1&y=%20 HTTP/1.1\r\nHost: t:8080\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n',
    'PUT /a/b HTTP/1.1\r\nHost: t\r\nX-A: a b\r\nContent-Length: 3\r\nX-B:\t1\r\n\r\nabc',
    'DELETE /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n',
    'OPTIONS /y HTTP/1.1\r\nConnection: keep-alive \r\nContent-Length: 2 \r\nHost: t\r\n\r\nab',
    'POST /v1/models/m:predict HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]',
    'POST /v1/models/m:predict HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]',
    'GET /v1/models/m HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n',
  ];
  const BYTES = [' ', '\t', '\r', '\n', ':', ',', ';', '\0', '\x0b', '\x7f', '\x80', '\xff', 'a', 'Z', '0', '9', '-', '/', '?', '#', '%', '"', '\\', '(', '@', '=', '+'];

  function mutate(text: string, next: () => number): string {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    let s = text;
    const times = 1 + Math.floor(next() * 3);
    for (let k = 0; k < times; k++) {
      const at = Math.floor(next() * s.length);
      switch (Math.floor(next() * 6)) {
        case 0:
          s = s.slice(0, at) + pick(BYTES) + s.slice(at);
          break;
        case 1:
          s = s.slice(0, at) + s.slice(at + 1);
          break;
        case 2:
          s = s.slice(0, at) + pick(BYTES) + s.slice(at + 1);
          break;
        case 3: {
          // Repeat a header line (a second Content-Length, Host, ...).
          const lines = s.split('\r\n');
          const i = 1 + Math.floor(next() * Math.max(1, lines.length - 3));
          lines.splice(i, 0, lines[i] ?? '');
          s = lines.join('\r\n');
          break;
        }
        case 4: {
          const c = s[at] ?? '';
          s = s.slice(0, at) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + s.slice(at + 1);
          break;
        }
        default:
          s = s.slice(0, at) + pick(['Transfer-Encoding: chunked\r\n', 'Content-Length: 5\r\n', 'Connection: close\r\n', 'Upgrade: h2c\r\n', ' \r\n', 'HTTP/1.1', '\r\n\r\n']) + s.slice(at);
      }
    }
    return s;
  }

  it('reads every request it takes as llhttp does, over 24,000 mutations of eight valid ones', () => {
    const next = seededRandom(19);
    let taken = 0;
    let left = 0;
    let closing = 0;
    let older = 0;
    for (let n = 0; n < 24_000; n++) {
      const text = mutate(SEEDS[n % SEEDS.length]!, next);
      const bytes = Buffer.from(text, 'latin1');
      const r = leanRequest(bytes, 0, 8192, methods);
      if (r === null) {
        left++;
        continue;
      }
      taken++;
      if (!r.keepAlive) closing++;
      if (r.minor === 0) older++;
      const end = r.bodyFrom + r.bodyLength;
      const whole = llhttpReads(bytes.subarray(0, end));
      const what = `${JSON.stringify(text)}: the fast path took ${JSON.stringify({ ...r, headers: [...r.headers] })}; llhttp read ${JSON.stringify(whole)}`;
      expect(whole, what).toEqual({
        method: r.method,
        url: r.url,
        headers: [...r.headers],
        body: bytes.toString('latin1', r.bodyFrom, end),
        major: 1,
        minor: r.minor,
        upgrade: false,
        keepAlive: r.keepAlive,
        complete: true,
        error: null,
      });
      // The message ends exactly there: one byte less and llhttp is still waiting for it.
      expect(llhttpReads(bytes.subarray(0, end - 1))?.complete ?? false, what).toBe(false);
    }
    // Both kinds occur, so the comparison is not empty.
    expect(taken).toBeGreaterThan(2_000);
    expect(left).toBeGreaterThan(2_000);
    expect(closing).toBeGreaterThan(500);
    expect(older).toBeGreaterThan(500);
  });
});
