/**
 * Ingress rules on a real `sluice serve` (embedded, real demo-runtime replica processes, real sockets): visibility
 * on the external and internal listeners, body size, header size and count, requests in flight per client, rate
 * limits, CIDR allowlists behind trusted proxies, CORS. Refused requests never wake a revision at zero.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

const AT_ZERO = { 'autoscaling.knative.dev/initial-scale': '0' };
const INPUT = JSON.stringify({ inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'FP32', data: [6.8, 2.8, 4.8, 1.4] }] });

interface Answer {
  status: number;
  headers: Headers;
  body: string;
  error?: string;
}

async function call(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body: INPUT, ...init, headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
  const body = await r.text();
  let error: string | undefined;
  try {
    error = (JSON.parse(body) as { error?: string }).error;
  } catch {
    error = undefined;
  }
  return { status: r.status, headers: r.headers, body, error };
}

/** Sends raw bytes on a new connection and resolves with everything the server sent until it closed. */
function raw(base: string, bytes: string): Promise<string> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(got) : reject(err)));
    s.on('close', () => resolve(got));
    s.write(bytes);
    setTimeout(() => s.end(), 2000).unref();
  });
}

const replicas = (s: Embedded, service: string): number => s.backend.counts(`default/${service}-predictor-00001`).desired;

describe('ingress rules (embedded sluice, real replicas and sockets)', () => {
  let s: Embedded;

  beforeAll(async () => {
    const dir = configFolder({
      'warm.yaml': demoService('warm', {
        predictor: '    minReplicas: 1\n',
        annotations: { 'sluice.dev/max-request-bytes': '2000', 'sluice.dev/cors-allow-origins': 'https://app.example.com', 'sluice.dev/cors-expose-headers': 'x-request-id' },
      }),
      'private.yaml': demoService('private', { annotations: { ...AT_ZERO, 'networking.kserve.io/visibility': 'cluster-local' } }),
      'internal.yaml': demoService('inside', { annotations: { ...AT_ZERO, 'sluice.dev/ingress': 'internal' } }),
      'cold.yaml': demoService('cold', {
        annotations: {
          ...AT_ZERO,
          'sluice.dev/max-request-bytes': '100',
          'sluice.dev/allow-cidrs': '10.0.0.0/8',
          'sluice.dev/cors-allow-origins': 'https://app.example.com',
          'sluice.dev/cors-allow-methods': 'POST',
          'sluice.dev/cors-allow-headers': 'content-type,authorization',
        },
      }),
      'open.yaml': demoService('open', { annotations: { ...AT_ZERO, 'sluice.dev/cors-allow-origins': 'https://app.example.com' } }),
    });
    s = await startTestSluice(dir, { internalPort: 0, maxHeaderBytes: 4096, maxHeaderCount: 20, trustedProxyHops: 1 });
    await waitUntil('warm to have a ready replica', () => s.backend.counts('default/warm-predictor-00001').ready >= 1, 30_000);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
  });

  it('a cluster-local service answers on the external listener exactly as an unknown one (404), probes included', async () => {
    const unknown = await call(s.dataUrl, '/v2/models/nosuch/infer');
    for (const name of ['private', 'inside']) {
      const hidden = await call(s.dataUrl, `/v2/models/${name}/infer`);
      expect(hidden.status).toBe(404);
      expect(hidden.error).toBe(unknown.error!.replace('nosuch', name));
      const probe = await fetch(`${s.dataUrl}/v2/models/${name}/ready`);
      expect(probe.status).toBe(404);
      expect(replicas(s, name)).toBe(0);
    }
  });

  it('the internal listener serves cluster-local services (and public ones)', async () => {
    expect(s.internalUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ok = await call(s.internalUrl!, '/v2/models/private/infer');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ model_name: 'private' });
    expect((await call(s.internalUrl!, '/v2/models/warm/infer')).status).toBe(200);
  }, 30_000);

  it('a declared body over the service limit is 413 naming the annotation, before the revision at zero is woken', async () => {
    const big = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 40], datatype: 'FP32', data: Array(40).fill(1.5) }] });
    const r = await call(s.dataUrl, '/v2/models/cold/infer', { body: big, headers: { 'x-forwarded-for': '10.1.2.3' } });
    expect(r.status).toBe(413);
    expect(r.error).toBe(`the request body of ${Buffer.byteLength(big)} bytes is larger than the 100 bytes allowed (sluice.dev/max-request-bytes=100)`);
    expect(replicas(s, 'cold')).toBe(0);
  });

  it('a chunked body that streams past the limit gets 413 naming it', async () => {
    const big = 'x'.repeat(5000);
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const r = await fetch(`${s.dataUrl}/v2/models/warm/infer`, { method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json' } } as RequestInit);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toBe('the request body is larger than the 2000 bytes allowed (sluice.dev/max-request-bytes=2000)');
  });

  it('headers over maxHeaderBytes or maxHeaderCount get 431 naming the setting', async () => {
    const big = await raw(s.dataUrl, `POST /v2/models/warm/infer HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\nContent-Length: 0\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(big).toContain('maxHeaderBytes=4096');
    const many = Array.from({ length: 25 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    const counted = await raw(s.dataUrl, `GET /v2/models/cold/ready HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
    expect(counted).toMatch(/^HTTP\/1\.1 431 /);
    expect(counted).toContain('the request has 26 header fields, more than the 20 allowed (maxHeaderCount=20)');
  });

  it('a CIDR allowlist uses the trusted hop of X-Forwarded-For; a spoofed entry left of it is ignored', async () => {
    // trustedProxyHops=1: the peer (127.0.0.1) is the proxy, the last X-Forwarded-For entry is the client.
    const spoofed = await call(s.dataUrl, '/v2/models/cold/infer', { headers: { 'x-forwarded-for': '10.9.9.9, 192.0.2.7' } });
    expect(spoofed.status).toBe(403);
    expect(spoofed.error).toBe('client address 192.0.2.7 is not allowed to call InferenceService default/cold (sluice.dev/allow-cidrs)');
    const direct = await call(s.dataUrl, '/v2/models/cold/infer');
    expect(direct.status).toBe(403);
    expect(direct.error).toContain('client address 127.0.0.1 is not allowed');
    expect(replicas(s, 'cold')).toBe(0);
  });

  it('a CORS preflight is answered at the gateway (204, or 403 naming the rule) and wakes nothing', async () => {
    const pre = (origin: string, method: string, headers?: string): Promise<Response> =>
      fetch(`${s.dataUrl}/v2/models/cold/infer`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}), 'x-forwarded-for': '10.0.0.1' },
      });
    const ok = await pre('https://app.example.com', 'POST', 'Content-Type, Authorization');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(ok.headers.get('access-control-allow-methods')).toBe('POST');
    expect(ok.headers.get('access-control-allow-headers')).toBe('content-type, authorization');
    expect(ok.headers.get('access-control-max-age')).toBe('600');
    expect(ok.headers.get('vary')).toContain('Origin');
    expect(await ok.text()).toBe('');
    const badOrigin = await pre('https://evil.example', 'POST');
    expect(badOrigin.status).toBe(403);
    expect(((await badOrigin.json()) as { error: string }).error).toBe('origin https://evil.example is not allowed (sluice.dev/cors-allow-origins)');
    const badMethod = await pre('https://app.example.com', 'DELETE');
    expect(badMethod.status).toBe(403);
    expect(((await badMethod.json()) as { error: string }).error).toContain('(sluice.dev/cors-allow-methods: POST)');
    const badHeader = await pre('https://app.example.com', 'POST', 'x-secret');
    expect(((await badHeader.json()) as { error: string }).error).toContain('request header x-secret is not allowed');
    // A service with a policy but not cold-allowed by CIDR: its preflight is still the gateway's.
    expect((await fetch(`${s.dataUrl}/v2/models/open/infer`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } })).status).toBe(204);
    expect(replicas(s, 'cold')).toBe(0);
    expect(replicas(s, 'open')).toBe(0);
  });

  it('an actual request from an allowed origin gets Access-Control-Allow-Origin and the exposed headers', async () => {
    const r = await call(s.dataUrl, '/v2/models/warm/infer', { headers: { origin: 'https://app.example.com' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(r.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(r.headers.get('vary')).toContain('Origin');
    const other = await call(s.dataUrl, '/v2/models/warm/infer', { headers: { origin: 'https://evil.example' } });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // Every response of a service with a policy varies on Origin, also those whose head goes on as the replica sent it.
    expect(other.headers.get('vary')).toContain('Origin');
    const plain = await call(s.dataUrl, '/v2/models/warm/infer');
    expect(plain.status).toBe(200);
    expect(plain.headers.get('vary')).toContain('Origin');
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('every refusal is counted by the rule that refused it', async () => {
    const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
    for (const limit of ['max_request_bytes', 'max_header_count', 'allow_cidrs', 'cors'])
      expect(metricValue(text, 'sluice_gateway_ingress_refused_total', { limit }), limit).toBeGreaterThan(0);
  });
});

describe('per-client limits (embedded sluice)', () => {
  let s: Embedded;

  beforeAll(async () => {
    const dir = configFolder({
      'warm.yaml': demoService('warm', { predictor: '    minReplicas: 1\n', env: { SLUICE_DEMO_LATENCY_MS: '400' } }),
      'cold.yaml': demoService('cold', { annotations: AT_ZERO }),
    });
    s = await startTestSluice(dir, { trustedProxyHops: 1, clientRateLimit: 0.01, clientRateLimitBurst: 2, maxRequestsPerClient: 1 });
    await waitUntil('warm to have a ready replica', () => s.backend.counts('default/warm-predictor-00001').ready >= 1, 30_000);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
  });

  it('a second request in flight from the same client gets 429 naming maxRequestsPerClient; another client is served', async () => {
    const first = call(s.dataUrl, '/v2/models/warm/infer', { headers: { 'x-forwarded-for': '198.51.100.1' } });
    await new Promise((r) => setTimeout(r, 100));
    const second = await call(s.dataUrl, '/v2/models/warm/infer', { headers: { 'x-forwarded-for': '198.51.100.1' } });
    expect(second.status).toBe(429);
    expect(second.error).toBe('too many requests in flight from this client: 1 (limit maxRequestsPerClient=1)');
    expect((await call(s.dataUrl, '/v2/models/warm/infer', { headers: { 'x-forwarded-for': '198.51.100.2' } })).status).toBe(200);
    expect((await first).status).toBe(200);
  }, 20_000);

  it('a revision at zero stays at zero under a flood of rate-limited requests (429 + Retry-After naming the limit)', async () => {
    // The client spends its burst of 2 on the warm service; from then on every request is over clientRateLimit.
    const client = { 'x-forwarded-for': '203.0.113.5' };
    expect((await call(s.dataUrl, '/v2/models/warm/infer', { headers: client })).status).toBe(200);
    expect((await call(s.dataUrl, '/v2/models/warm/infer', { headers: client })).status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 500 }, () => call(s.dataUrl, '/v2/models/cold/infer', { headers: client })));
    expect(answers.every((a) => a.status === 429)).toBe(true);
    expect(answers[0]!.error).toBe('rate limit exceeded for this client: 0.01 requests/s, burst 2 (clientRateLimit=0.01, clientRateLimitBurst=2)');
    expect(Number(answers[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(90);
    expect(s.backend.counts('default/cold-predictor-00001')).toMatchObject({ desired: 0, ready: 0 });
    // Another client is not limited by this one's bucket.
    expect((await call(s.dataUrl, '/v2/models/warm/infer', { headers: { 'x-forwarded-for': '203.0.113.6' } })).status).toBe(200);
  }, 30_000);
});
