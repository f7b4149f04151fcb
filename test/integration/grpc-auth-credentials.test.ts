/**
 * The client's credentials on the gRPC path (gateway/grpc/grpc-gateway.ts, grpc-call.ts), on real sockets: a gRPC
 * client over HTTP/2 cleartext to the gateway, and a replica that is an HTTP/2 server recording the metadata it
 * got. With `sluice.dev/auth: api-key` the key (in `authorization` and in `x-api-key`) and the client's own identity
 * headers are left out (the auth stage's `upstreamDrop`) and the replica gets the caller's identity instead; a
 * service with `sluice.dev/auth-forward-credentials: "true"` gets the credentials as the client sent them.
 */
import { connect, createServer, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../api/api-keys.js';
import type { Stage } from '../../gateway/stage.js';
import { AuthStage } from '../../gateway/stages/auth/auth-stage.js';
import { isvc } from '../support/controller-harness.js';
import { gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitUntil } from '../support/wait.js';

const made = newApiKey('grpc-bench', [{ namespace: 'default' }], new Date('2026-01-01T00:00:00Z'));
const REVS = ['default/strip-predictor-00001', 'default/keep-predictor-00001'];

let g: GatewayHarness;
let replica: Http2Server;
const seen: IncomingHttpHeaders[] = [];
/** The upstream headers as built, before the auth stage's own hook: what `upstreamDrop` left out never got in. */
const built: Record<string, unknown>[] = [];

/** One gRPC message frame (uncompressed). */
function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

beforeAll(async () => {
  // The replica: answers every call with one message and grpc-status 0, and records the metadata it got.
  replica = createServer();
  replica.on('stream', (stream, headers) => {
    seen.push(headers);
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame(Buffer.from('ok')));
    });
  });
  await new Promise<void>((r) => replica.listen(0, '127.0.0.1', r));
  const stage = new AuthStage({
    defaultPolicy: { mode: 'none', key: 'none' },
    keys: { byHash: (h) => (h === made.record.hash ? made.record : undefined), version: 1 },
    jwt: null,
    domain: 'example.com',
  });
  const recorder: Stage = { name: 'recorder', onUpstreamHeaders: (_ex, h) => void built.push({ ...h }) };
  g = await gatewayHarness({}, [recorder, stage]);
  await g.controller.apply(isvc('strip', 'gs://m/v1', '    minReplicas: 1\n', { 'sluice.dev/auth': 'api-key' }), 'api');
  await g.controller.apply(isvc('keep', 'gs://m/v1', '    minReplicas: 1\n', { 'sluice.dev/auth': 'api-key', 'sluice.dev/auth-forward-credentials': 'true' }), 'api');
  const url = `http://127.0.0.1:${(replica.address() as AddressInfo).port}`;
  for (const rev of REVS) g.backend.markReady(rev, url, url); // the same port takes HTTP/2 (its gRPC port)
  await waitUntil('the replicas in rotation', () => REVS.every((r) => g.activator.activeReplicas(r) === 1));
});

afterAll(async () => {
  await g?.close();
  replica?.close();
});

/** One unary call routed by `:authority` (the service's host); resolves with the gRPC status and message. */
async function call(service: string, metadata: Record<string, string>): Promise<{ status: string | undefined; message: string | undefined; body: Buffer }> {
  const session = connect(g.url);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/bench.Echo/Say',
      ':authority': `${service}.default.example.com`,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...metadata,
    });
    const chunks: Buffer[] = [];
    let trailers: Record<string, unknown> = {};
    let headers: Record<string, unknown> = {};
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.end(frame(Buffer.from('hello')));
    await new Promise<void>((resolve, reject) => {
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    // A trailers-only answer (a refusal) carries grpc-status in its headers.
    const status = (trailers['grpc-status'] ?? headers['grpc-status']) as string | undefined;
    const message = (trailers['grpc-message'] ?? headers['grpc-message']) as string | undefined;
    return { status, message: message === undefined ? undefined : decodeURIComponent(message), body: Buffer.concat(chunks) };
  } finally {
    session.close();
  }
}

describe('gRPC: the client credential and the replica', () => {
  it('sluice.dev/auth: api-key: the replica gets the caller\'s identity, never the key (authorization, x-api-key) nor a spoofed identity', async () => {
    seen.length = 0;
    built.length = 0;
    const r = await call('strip', {
      authorization: `Bearer ${made.key}`,
      'x-api-key': made.key,
      'x-sluice-subject': 'admin',
      'x-sluice-key-id': 'forged',
      'x-request-tag': 'kept',
    });
    expect(r.status).toBe('0');
    expect(r.body.subarray(5).toString()).toBe('ok');
    expect(seen).toHaveLength(1);
    const h = seen[0]!;
    expect(h.authorization).toBeUndefined();
    expect(h['x-api-key']).toBeUndefined();
    expect(h['x-sluice-subject']).toBe('apikey:grpc-bench');
    expect(h['x-sluice-key-id']).toBe(made.record.id);
    expect(h['x-request-tag']).toBe('kept');
    expect(h['content-type']).toBe('application/grpc');
    // Left out as the replica's headers were built (upstreamDrop), not deleted from them afterwards.
    expect(built).toHaveLength(1);
    expect(Object.keys(built[0]!).filter((k) => ['authorization', 'x-api-key', 'x-sluice-subject', 'x-sluice-key-id'].includes(k))).toEqual([]);
    expect(built[0]!['x-request-tag']).toBe('kept');
  });

  it('a call without a key is refused UNAUTHENTICATED and reaches no replica', async () => {
    seen.length = 0;
    built.length = 0;
    const r = await call('strip', { 'x-sluice-subject': 'admin' });
    expect(r.status).toBe('16');
    expect(r.message).toBe('default/strip needs an API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"');
    expect(seen).toHaveLength(0);
  });

  it('sluice.dev/auth-forward-credentials: "true": the replica gets the credentials as sent, with the identity', async () => {
    seen.length = 0;
    built.length = 0;
    const r = await call('keep', { authorization: `Bearer ${made.key}`, 'x-api-key': made.key, 'x-sluice-subject': 'admin' });
    expect(r.status).toBe('0');
    expect(seen).toHaveLength(1);
    const h = seen[0]!;
    expect(h.authorization).toBe(`Bearer ${made.key}`);
    expect(h['x-api-key']).toBe(made.key);
    expect(h['x-sluice-subject']).toBe('apikey:grpc-bench');
    expect(h['x-sluice-key-id']).toBe(made.record.id);
    expect(built[0]!.authorization).toBe(`Bearer ${made.key}`);
    expect(built[0]!['x-sluice-subject']).toBeUndefined(); // the client's identity header: dropped, always
  });
});
