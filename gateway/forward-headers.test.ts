import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientResponseHeadersRaw, clientResponsePairs, upstreamDrop, upstreamRequestHeaders } from './forward-headers.js';

function req(headers: Record<string, string>): IncomingMessage {
  return { headers, socket: { remoteAddress: '10.0.0.7' } } as unknown as IncomingMessage;
}

describe('upstreamRequestHeaders', () => {
  const client = {
    host: 'iris.example.com',
    'content-type': 'application/json',
    authorization: 'Bearer secret',
    'x-api-key': 'sk-sluice-x',
    'x-sluice-subject': 'mallory',
    connection: 'keep-alive, x-hop',
    'x-hop': 'hop',
    te: 'trailers',
    'x-trace': 't',
  };

  it('drops hop-by-hop headers and those Connection lists; sets X-Forwarded-*', () => {
    expect(upstreamRequestHeaders(req(client))).toEqual({
      host: 'iris.example.com',
      'content-type': 'application/json',
      authorization: 'Bearer secret',
      'x-api-key': 'sk-sluice-x',
      'x-sluice-subject': 'mallory',
      'x-trace': 't',
      'x-forwarded-for': '10.0.0.7',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'iris.example.com',
    });
  });

  it('leaves out the headers a stage dropped (never put in, so nothing is deleted), and still the hop-by-hop ones', () => {
    const drop = upstreamDrop(['authorization', 'x-api-key', 'x-sluice-subject']);
    const out = upstreamRequestHeaders(req(client), drop);
    expect(out).toEqual({
      host: 'iris.example.com',
      'content-type': 'application/json',
      'x-trace': 't',
      'x-forwarded-for': '10.0.0.7',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'iris.example.com',
    });
    expect(drop.names.has('te')).toBe(false); // gRPC forwards `te: trailers`: only the names, without hop-by-hop
    expect(drop.withHopByHop.has('te')).toBe(true);
  });
});

describe('clientResponsePairs', () => {
  it('keeps what clientResponseHeadersRaw keeps, as lower-case pairs in the order sent (a repeated name stays two pairs)', () => {
    const raw = ['Content-Type', 'application/json', 'Set-Cookie', 'a=1', 'Connection', 'keep-alive, X-Hop', 'X-Hop', 'h', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'b=2', 'Trailer', 'x', 'X-Model', 'v1'];
    const pairs = clientResponsePairs(raw);
    expect(pairs).toEqual(['content-type', 'application/json', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-model', 'v1']);
    // The same fields as the object the other path builds.
    const asObject: Record<string, string | string[]> = {};
    for (let i = 0; i < pairs.length; i += 2) {
      const prev = asObject[pairs[i]!];
      asObject[pairs[i]!] = prev === undefined ? pairs[i + 1]! : [prev as string, pairs[i + 1]!];
    }
    expect(asObject).toEqual(clientResponseHeadersRaw(raw));
  });
});
