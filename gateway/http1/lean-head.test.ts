/**
 * The fast path's parser alone: which requests it takes (and what it reads from them), and that it leaves every
 * other to llhttp (null). That both read the requests it takes the same way, over real sockets, is
 * data-connection.test.ts's "the fast path against llhttp".
 */
import { describe, expect, it } from 'vitest';
import { leanRequest } from './lean-head.js';

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
    });
  });

  it('a request that starts later in the buffer, with no headers and no body', () => {
    expect(take('xxGET / HTTP/1.1\r\n\r\n', 2)).toEqual({ method: 1, url: '/', headers: [], bodyFrom: 20, bodyLength: 0 });
  });

  it('Connection: keep-alive in any case, and an empty value', () => {
    expect(take('PUT /a HTTP/1.1\r\nConnection: KEEP-alive\r\nX-E:\r\n\r\n')?.headers).toEqual(['Connection', 'KEEP-alive', 'X-E', '']);
  });
});

describe('leanRequest leaves to llhttp (null)', () => {
  const refused: Record<string, string> = {
    'a head not complete in the buffer': 'GET / HTTP/1.1\r\nHost: t\r\n',
    'a body not complete in the buffer': 'POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabc',
    'a method not in its table': 'DELETE / HTTP/1.1\r\n\r\n',
    'HTTP/1.0': 'GET / HTTP/1.0\r\n\r\n',
    'a target not starting with /': 'GET * HTTP/1.1\r\n\r\n',
    'a # in the target': 'GET /a#b HTTP/1.1\r\n\r\n',
    'a bare LF': 'GET / HTTP/1.1\nHost: t\r\n\r\n',
    'obs-fold': 'GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n',
    'a space before a colon': 'GET / HTTP/1.1\r\nX-A : a\r\n\r\n',
    'obs-text in a value': 'GET / HTTP/1.1\r\nX-A: \xe9\r\n\r\n',
    'a control byte in a value': 'GET / HTTP/1.1\r\nX-A: \x01\r\n\r\n',
    'Transfer-Encoding': 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'Upgrade': 'GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n',
    'Connection: close': 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n',
    'two Content-Lengths': 'POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\na',
    'a Content-Length that is not digits': 'POST / HTTP/1.1\r\nContent-Length: 0x1\r\n\r\na',
    'a Content-Length of 16 digits': 'POST / HTTP/1.1\r\nContent-Length: 0000000000000001\r\n\r\na',
  };
  for (const [name, text] of Object.entries(refused)) it(name, () => expect(take(text)).toBe(null));

  it('a head longer than maxHead', () => {
    const text = 'GET / HTTP/1.1\r\nX-A: aaaa\r\n\r\n';
    expect(take(text, 0, text.length)).not.toBe(null);
    expect(take(text, 0, text.length - 1)).toBe(null);
  });
});
