/**
 * Proxy header hygiene on real sockets: hop-by-hop headers (and those a Connection header lists) stay on their
 * hop both ways; X-Forwarded-For/-Proto/-Host are set; dot segments in the path are refused before routing.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthStage } from '../../gateway/stages/auth/auth-stage.js';
import { isvc } from '../support/controller-harness.js';
import { gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitUntil } from '../support/wait.js';

const REV = 'iris-predictor-00001';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

let g: GatewayHarness;
let upstream: Server;
const seen: Seen[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.setHeader('connection', 'keep-alive, x-upstream-hop');
    res.setHeader('x-upstream-hop', 'for the gateway only');
    res.setHeader('x-upstream-end', 'for the client');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  // The auth stage as `sluice serve` composes it with no auth configured (every service open).
  const auth = new AuthStage({ defaultPolicy: { mode: 'none', key: 'none' }, keys: { byHash: () => undefined }, jwt: null, domain: 'example.com' });
  g = await gatewayHarness({}, [auth]);
  await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
  g.backend.markReady(`default/${REV}`, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  await waitUntil('the replica in rotation', () => g.activator.activeReplicas(`default/${REV}`) === 1);
});

afterAll(async () => {
  await g?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

/** A raw request (node:http does not normalise the path, unlike fetch). */
function send(path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const port = Number(new URL(g.url).port);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end('{"instances":[[1,2,3,4]]}');
  });
}

describe('headers through the gateway', () => {
  it('drops hop-by-hop headers and the ones Connection lists, both ways', async () => {
    seen.length = 0;
    const r = await send('/v1/models/iris:predict', {
      connection: 'keep-alive, X-Client-Hop',
      'x-client-hop': 'for the gateway only',
      'x-client-end': 'for the replica',
      'proxy-authorization': 'Basic c2VjcmV0',
    });
    expect(r.status).toBe(200);
    const h = seen[0]!.headers;
    expect(h['x-client-hop']).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h['x-client-end']).toBe('for the replica');
    expect(r.headers['x-upstream-hop']).toBeUndefined();
    expect(r.headers['x-upstream-end']).toBe('for the client');
  });

  it('appends the client address to X-Forwarded-For and sets X-Forwarded-Proto and -Host', async () => {
    seen.length = 0;
    await send('/v1/models/iris:predict', { host: 'iris.default.example.com' });
    await send('/v1/models/iris:predict', { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.org' });
    expect(seen.map((s) => [s.headers['x-forwarded-for'], s.headers['x-forwarded-proto'], s.headers['x-forwarded-host']])).toEqual([
      ['127.0.0.1', 'http', 'iris.default.example.com'],
      // A proxy in front said where the request came from: its scheme and host are kept, the hop is appended.
      ['203.0.113.7, 127.0.0.1', 'https', 'api.example.org'],
    ]);
  });

  it("never passes on a client's identity headers (the service has no auth: they could only be forged); its other fields do go on", async () => {
    seen.length = 0;
    const r = await send('/v1/models/iris:predict', { 'x-sluice-subject': 'mallory', 'x-sluice-key-id': 'forged', authorization: 'Bearer for-the-replica', 'x-client-end': 'kept' });
    expect(r.status).toBe(200);
    const h = seen[0]!.headers;
    expect([h['x-sluice-subject'], h['x-sluice-key-id'], h.authorization, h['x-client-end']]).toEqual([undefined, undefined, 'Bearer for-the-replica', 'kept']);
  });

  it('refuses a path with a dot segment, plain or encoded, with 400 naming it; the replica never sees it', async () => {
    seen.length = 0;
    for (const path of ['/serving/default/iris/../iris/v1/models/iris:predict', '/serving/default/iris/%2e%2e/iris/v1/models/iris:predict', '/v1/models/iris/./x']) {
      const r = await send(path, {});
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body).error).toContain(`path "${path}" has a dot segment`);
    }
    expect(seen).toEqual([]);
    const ok = await send('/serving/default/iris/v1/models/iris:predict', {});
    expect(ok.status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(['/v1/models/iris:predict']);
    expect(await g.metrics.registry.metrics()).toMatch(/sluice_unrouted_requests_total\{reason="bad_path"\} 3\n/);
  });
});
