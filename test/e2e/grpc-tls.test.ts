/**
 * gRPC over TLS on the HTTPS data port: the handshake's ALPN `h2` takes a gRPC client to the gRPC gateway, and
 * an HTTP/1.1 client (ALPN `http/1.1`, or none) on the same port gets the HTTPS server. Certificates are made
 * here with openssl; the client is a real `@grpc/grpc-js` channel with TLS credentials.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { startTestSluice } from '../support/embedded.js';
import { inferRequest, oipClient, oipRuntimeYaml, oipService, unary, type InferReply } from '../support/grpc/oip-client.js';

/** A self-signed certificate for 127.0.0.1 and localhost. */
function makeCert(dir: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${cn}.crt`);
  const key = join(dir, `${cn}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** The protocol a TLS handshake that offers `offer` settles on (false: none). */
function negotiated(url: string, ca: Buffer, offer: string[] | undefined): Promise<string | false> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: u.hostname, port: Number(u.port), ca, ALPNProtocols: offer }, () => {
      const p = s.alpnProtocol;
      s.end();
      resolve(p ?? false);
    });
    s.once('error', reject);
  });
}

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string; version: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, version: res.httpVersion }));
    }).once('error', reject);
  });
}

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };

describe('gRPC over TLS (ALPN h2) beside HTTPS/1.1 on the data port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-grpc-tls-'));
  const pair = makeCert(dir, 'gateway');
  const ca = readFileSync(pair.cert);
  let s: Embedded;
  let address: string;
  let client: grpc.Client;

  beforeAll(async () => {
    writeFileSync(join(dir, 'runtime.yaml'), oipRuntimeYaml());
    writeFileSync(join(dir, 'echo.yaml'), oipService('echo', { annotations: ZERO }));
    s = await startTestSluice(dir, { tlsCertFile: pair.cert, tlsKeyFile: pair.key, scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 });
    address = new URL(s.dataUrl).host;
    client = oipClient(address, undefined, grpc.credentials.createSsl(ca));
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await s?.close();
  });

  it('offers h2 and http/1.1 by ALPN, and takes a client that offers none as HTTP/1.1', async () => {
    expect(s.dataUrl).toMatch(/^https:\/\//);
    expect(await negotiated(s.dataUrl, ca, ['h2', 'http/1.1'])).toBe('h2');
    expect(await negotiated(s.dataUrl, ca, ['http/1.1'])).toBe('http/1.1');
    expect(await negotiated(s.dataUrl, ca, undefined)).toBe(false);
    const r = await httpsGet(`${s.dataUrl}/v2/health/live`, ca);
    expect([r.status, r.version]).toEqual([200, '1.1']);
  });

  it('a grpc-js client with TLS credentials reaches the model from zero; HTTPS/1.1 on the same port meanwhile', async () => {
    const [call, http1] = await Promise.all([
      unary<InferReply>(client, 'ModelInfer', inferRequest('echo', [1, 2.5], 'over-tls'), { deadlineMs: 30_000 }),
      httpsGet(`${s.dataUrl}/v2/models/echo/ready`, ca),
    ]);
    expect(call.err).toBeNull();
    expect(call.reply!.id).toBe('over-tls');
    expect(call.reply!.outputs[0]!.contents.fp32_contents).toEqual([2, 5]);
    expect(Number(call.metadata!.get('x-sluice-cold-start')[0])).toBeGreaterThan(0);
    // The HTTP/1.1 request on the same port was answered by the HTTP gateway (a model probe at zero, or warm).
    expect(http1.version).toBe('1.1');
    expect([200, 503]).toContain(http1.status);
    const after = await httpsGet(`${s.dataUrl}/v2/health/ready`, ca);
    expect([after.status, after.version]).toEqual([200, '1.1']);
  }, 40_000);

  it('server-level calls and errors are gRPC statuses over TLS too', async () => {
    const live = await unary<{ live: boolean }>(client, 'ServerLive', {});
    expect(live.reply).toEqual({ live: true });
    const missing = await unary(client, 'ModelInfer', inferRequest('nosuch', [1]));
    expect(missing.err?.code).toBe(grpc.status.NOT_FOUND);
  });

  it('a node:http2 client over TLS that is not gRPC gets 415 naming the rule, not an HTTP/1.1 page', async () => {
    const session = h2connect(s.dataUrl, { ca });
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ':path': '/v2/health/live', ':method': 'GET' });
        let status = 0;
        let body = '';
        req.on('response', (h) => (status = Number(h[':status'])));
        req.setEncoding('utf8');
        req.on('data', (d: string) => (body += d));
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
        req.end();
      });
      expect(session.alpnProtocol).toBe('h2');
      expect(status).toBe(415);
      expect(body).toContain('carries gRPC only');
    } finally {
      session.close();
    }
  });
});
