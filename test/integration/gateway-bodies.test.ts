/**
 * Request bodies the gateway cannot or need not pass whole: a replica that answers before it has read the body
 * (its 413 reaches the client; the replica stays in rotation; no phantom cold starts), and a body larger than
 * the held-bytes bound (413, not a 503 that invites a retry that can never succeed).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isvc } from '../support/controller-harness.js';
import { inferBody, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitUntil } from '../support/wait.js';

const FIVE_MB = 5 * 1024 * 1024;
const REV = 'iris-predictor-00001';

let plane: DataPlane | null = null;
let harness: GatewayHarness | null = null;
let upstream: Server | null = null;
afterEach(async () => {
  await plane?.close();
  await harness?.close();
  upstream?.closeAllConnections();
  upstream?.close();
  plane = harness = upstream = null;
});

async function post(url: string, body: string, signal?: AbortSignal): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

describe('a replica that answers before reading the whole body', () => {
  it('demo runtime (1 MiB limit): 20 × 5 MB get its own 413, the replica is never ejected, one cold start', async () => {
    plane = await startDataPlane();
    const p = plane;
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await post(`${p.url}/v2/models/iris/infer`, inferBody(`big-${i}`, FIVE_MB));
      statuses.push(r.status);
      expect(r.text).toMatch(/request body over 1048576 bytes/);
      // An ejection happens before the answer is written, and a probe brings the replica back ≥ 100 ms later.
      expect(p.activator.replicas(p.key).map((x) => x.state)).toEqual(['active']);
    }
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 413));
    // The replica still serves, on the same process: it was started once.
    const ok = await post(`${p.url}/v2/models/iris/infer`, inferBody('small'));
    expect(ok.status).toBe(200);
    expect(p.pokes).toBe(1);
    expect(p.backend.endpoints(p.key)).toHaveLength(1);
    const metrics = await p.metrics.registry.metrics();
    expect(metrics).toMatch(/sluice_cold_starts_total\{namespace="default",service="iris",revision="iris-predictor-00001"\} 1\n/);
    expect(metrics).toMatch(/sluice_requests_total\{[^}]*code="413"\} 20\n/);
  }, 60_000);

  it('raw node:http upstream that answers 413 at once and closes: 20 × 5 MB → 20 × 413, no retries, no ejection', async () => {
    let seen = 0;
    upstream = createServer((_req, res) => {
      seen++;
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"error":"upstream says: too large"}');
    });
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r));
    harness = await gatewayHarness();
    const g = harness;
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
    g.backend.markReady(`default/${REV}`, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    await waitUntil('the replica in rotation', () => g.activator.activeReplicas(`default/${REV}`) === 1);
    const body = 'x'.repeat(FIVE_MB);
    for (let i = 0; i < 20; i++) {
      const r = await post(`${g.url}/v1/models/iris:predict`, body);
      expect([r.status, r.text]).toEqual([413, '{"error":"upstream says: too large"}']);
      expect(g.activator.replicas(`default/${REV}`).map((x) => x.state)).toEqual(['active']);
    }
    expect(seen).toBe(20);
  }, 60_000);
});

describe('a connection that breaks after the answer began', () => {
  it('is cut for the client but does not take the replica out of rotation', async () => {
    upstream = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
    });
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r));
    harness = await gatewayHarness();
    const g = harness;
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
    g.backend.markReady(`default/${REV}`, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    await waitUntil('the replica in rotation', () => g.activator.activeReplicas(`default/${REV}`) === 1);
    await expect(post(`${g.url}/v1/models/iris:predict`, 'x'.repeat(1000))).rejects.toThrow();
    expect(g.activator.replicas(`default/${REV}`).map((x) => x.state)).toEqual(['active']);
  });
});

describe('a body over the held-bytes bound', () => {
  it('alone over maxHeldBytesPerRevision → 413 naming it; the bound full of other held bodies → 503 + Retry-After', async () => {
    // The harness's bounds: maxHeldBytesPerRevision 1e6, maxHeldBytesTotal 1e7; no replica, so requests are held.
    harness = await gatewayHarness();
    const g = harness;
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 0\n'), 'api');
    const url = `${g.url}/v1/models/iris:predict`;
    const tooBig = await post(url, 'x'.repeat(1_500_000));
    expect(tooBig.status).toBe(413);
    expect(tooBig.headers.get('retry-after')).toBeNull();
    expect(JSON.parse(tooBig.text).error).toMatch(/request body of 1500000 bytes .* \(limit maxHeldBytesPerRevision=1000000\)/);

    const leave = new AbortController();
    const held = post(url, 'x'.repeat(600_000), leave.signal).catch((e: unknown) => e);
    await waitUntil('one request held', () => g.activator.held(`default/${REV}`) === 1);
    const full = await post(url, 'x'.repeat(600_000));
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(full.text).error).toMatch(/exceed maxHeldBytesPerRevision=1000000/);
    leave.abort();
    expect(await held).toBeInstanceOf(Error);
    const metrics = await g.metrics.registry.metrics();
    expect(metrics).toMatch(/sluice_activator_rejected_total\{reason="body_too_large"\} 1\n/);
  }, 30_000);
});
