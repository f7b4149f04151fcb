import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { upstreamDrop, upstreamRequestHeaders } from './forward-headers.js';

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
