/**
 * Slow and greedy clients on real sockets: a slow request head or a stalled body gets 408 naming the setting,
 * a held request whose body waits unread is not timed, and connections over a cap are closed at accept.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Collector } from '../autoscaler/collector.js';
import { gatewayPipeline } from '../cli/wiring.js';
import { SystemClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import { controllerHarness, isvc, type Harness } from '../test/support/controller-harness.js';
import { waitUntil } from '../test/support/wait.js';
import type { ClientLimits } from './client-connections.js';
import { Forwarder } from './forwarder.js';
import { Gateway } from './gateway.js';

const REV = 'iris-predictor-00001';

interface Setup {
  h: Harness;
  port: number;
  upstreamUrl: string;
  /** Bytes of each request body the upstream read, in order of completion. */
  received: number[];
  close(): Promise<void>;
}

let current: Setup | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

async function setup(limits: Partial<ClientLimits>, o: { replica?: boolean } = {}): Promise<Setup> {
  const received: number[] = [];
  const upstream: Server = createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      received.push(n);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: n }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const h = controllerHarness();
  const collector = new Collector({ clock: h.clock, store: h.store, instance: 'test' });
  const forwarder = new Forwarder({ bodyTimeoutMs: 1000, clock: new SystemClock() });
  const pipeline = gatewayPipeline({ clock: h.clock, logger: silentLogger(), metrics: h.metrics, collector });
  const gateway = new Gateway({ clock: h.clock, logger: silentLogger(), metrics: h.metrics, snapshot: h.snapshot, activator: h.activator, forwarder, pipeline, clientLimits: limits });
  const server = gateway.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await h.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
  if (o.replica !== false) {
    h.backend.markReady(`default/${REV}`, upstreamUrl);
    await waitUntil('the replica in rotation', () => h.activator.activeReplicas(`default/${REV}`) === 1);
  }
  current = {
    h,
    port: (server.address() as AddressInfo).port,
    upstreamUrl,
    received,
    close: async () => {
      server.closeAllConnections();
      server.close();
      upstream.closeAllConnections();
      upstream.close();
      collector.close();
      await forwarder.close();
      h.controller.stop();
    },
  };
  return current;
}

/** A raw client connection: everything it receives, and whether the server closed it. */
async function rawClient(port: number): Promise<{ socket: Socket; text: () => string; closed: () => boolean }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (text += c.toString()));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  return { socket, text: () => text, closed: () => closed };
}

const HEAD = (length: number): string =>
  `POST /v1/models/iris:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

describe('slow clients', () => {
  it('a request head not finished within headerTimeoutSeconds gets 408 naming it, and the connection closes', async () => {
    const s = await setup({ headerTimeoutMs: 1000 });
    const c = await rawClient(s.port);
    const startedAt = Date.now();
    c.socket.write('POST /v1/models/iris:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await waitUntil('the server to answer and close', () => c.closed(), 5_000, 20);
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(c.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(c.text()).toContain('"error":"the request head (request line and headers) was not received within 1 s (headerTimeoutSeconds=1)"');
    expect(await s.h.metrics.registry.metrics()).toMatch(/sluice_gateway_client_timeouts_total\{kind="headers"\} 1\n/);
  });

  it('a connection that hangs up before sending a byte is closed at once, not left half-open', async () => {
    const s = await setup({ headerTimeoutMs: 5000 });
    const c = await rawClient(s.port);
    c.socket.end();
    await waitUntil('the server to close its side', () => c.closed(), 1_000, 10);
    expect(c.text()).toBe('');
  });

  it('a connection that never sends a byte is closed after headerTimeoutSeconds', async () => {
    const s = await setup({ headerTimeoutMs: 1000 });
    const c = await rawClient(s.port);
    const startedAt = Date.now();
    await waitUntil('the server to close it', () => c.closed(), 5_000, 20);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
    expect(c.text()).toBe('');
  });

  // 10 kB is read whole before it goes upstream; 100 kB (over WHOLE_BODY_MAX_BYTES) streams through the lazy body.
  it.each([10_000, 100_000])('a body the client stops sending gets 408 naming bodyTimeoutSeconds; the replica never answers it (%i bytes declared)', async (declared) => {
    const s = await setup({});
    const c = await rawClient(s.port);
    const startedAt = Date.now();
    c.socket.write(HEAD(declared) + 'x'.repeat(100));
    await waitUntil('the server to answer and close', () => c.closed(), 5_000, 20);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_000);
    expect(c.text()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(c.text().toLowerCase()).toContain('connection: close');
    expect(c.text()).toMatch(/sent no request body bytes for 1 s while the gateway was reading them \(bodyTimeoutSeconds=1\)/);
    expect(s.received).toEqual([]);
    expect(await s.h.metrics.registry.metrics()).toMatch(/sluice_gateway_client_timeouts_total\{kind="body"\} 1\n/);
  });

  it('a held request whose body waits unread is not timed: held 2.5 s (> bodyTimeoutSeconds) it is served whole', async () => {
    const s = await setup({}, { replica: false });
    // Under the harness's held-bytes bound (1e6); far more than the socket's buffers take in before it stops reading.
    const body = 'x'.repeat(900_000);
    const answer = fetch(`http://127.0.0.1:${s.port}/v1/models/iris:predict`, { method: 'POST', body }).then(async (r) => [r.status, await r.text()]);
    await waitUntil('the request held', () => s.h.activator.held(`default/${REV}`) === 1);
    await new Promise((r) => setTimeout(r, 2_500));
    s.h.backend.markReady(`default/${REV}`, s.upstreamUrl);
    expect(await answer).toEqual([200, JSON.stringify({ bytes: body.length })]);
    expect(await s.h.metrics.registry.metrics()).not.toMatch(/sluice_gateway_client_timeouts_total\{kind="body"\} [1-9]/);
  });
});

describe('connection caps', () => {
  async function openAndUse(port: number): Promise<{ socket: Socket; text: () => string; closed: () => boolean }> {
    const c = await rawClient(port);
    c.socket.write(HEAD(2) + '{}');
    await waitUntil('an answer', () => c.text().includes('{"bytes":2}') || c.closed(), 5_000, 10);
    return c;
  }

  it('closes a connection over maxConnectionsPerClient at accept and counts it; a closed one frees a place', async () => {
    const s = await setup({ maxConnectionsPerClient: 2 });
    const a = await openAndUse(s.port);
    const b = await openAndUse(s.port);
    expect([a.closed(), b.closed()]).toEqual([false, false]);
    const over = await rawClient(s.port);
    await waitUntil('the third connection to be closed', () => over.closed(), 5_000, 10);
    expect(over.text()).toBe('');
    expect(await s.h.metrics.registry.metrics()).toMatch(/sluice_gateway_connections_refused_total\{reason="per_client"\} 1\n/);
    a.socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const again = await openAndUse(s.port);
    expect(again.text()).toContain('{"bytes":2}');
  });

  it('closes a connection over maxConnections at accept and counts it', async () => {
    const s = await setup({ maxConnections: 2, maxConnectionsPerClient: 0 });
    await openAndUse(s.port);
    await openAndUse(s.port);
    const over = await rawClient(s.port);
    await waitUntil('the third connection to be closed', () => over.closed(), 5_000, 10);
    expect(over.text()).toBe('');
    expect(await s.h.metrics.registry.metrics()).toMatch(/sluice_gateway_connections_refused_total\{reason="total"\} 1\n/);
  });
});
