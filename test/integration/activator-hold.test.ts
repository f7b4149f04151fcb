/**
 * The activator on real sockets with real demo-runtime replicas: bounds, client aborts, retries, breakers,
 * scale-from-zero spread, and the accounting and bound of held request bodies.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpProbe } from '../../activator/prober.js';
import { demoStats, inferBody, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

let plane: DataPlane | null = null;
afterEach(async () => {
  await plane?.close();
  plane = null;
});

interface Answer {
  status: number;
  body: { id?: string; error?: string };
  headers: Headers;
}

async function infer(url: string, id: string, o: { bytes?: number; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<Answer> {
  const r = await fetch(`${url}/v2/models/iris/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...o.headers },
    body: inferBody(id, o.bytes),
    signal: o.signal,
  });
  return { status: r.status, body: (await r.json()) as Answer['body'], headers: r.headers };
}

async function totalPredictions(p: DataPlane): Promise<number> {
  let n = 0;
  for (const u of p.replicaUrls()) n += (await demoStats(u)).predictions;
  return n;
}

describe('hold queue on real sockets', () => {
  it('holds requests from zero, refuses past the bound with 503 + Retry-After, and never forwards abandoned ones', async () => {
    plane = await startDataPlane({
      containerConcurrency: 4,
      env: { SLUICE_DEMO_STARTUP_DELAY_MS: '2500', SLUICE_DEMO_MAX_CONCURRENCY: '4' },
      limits: { maxHeldPerRevision: 40 },
    });
    const p = plane;
    const aborts = Array.from({ length: 10 }, () => new AbortController());
    const kept = Array.from({ length: 30 }, (_, i) => infer(p.url, `keep-${i}`, { bytes: 2048 }));
    const abandoned = aborts.map((a, i) => infer(p.url, `gone-${i}`, { bytes: 2048, signal: a.signal }).catch((e: unknown) => e));
    await waitUntil('40 requests held', () => p.activator.held(p.key) === 40, 10_000);
    expect(p.pokes).toBeGreaterThanOrEqual(1);
    const over = await infer(p.url, 'over', { bytes: 2048 });
    expect(over.status).toBe(503);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(over.body.error).toMatch(/too many requests held for revision iris-predictor-00001 \(limit maxHeldPerRevision=40\)/);
    const metrics = await p.metrics.registry.metrics();
    const rev = { namespace: 'default', service: 'iris', revision: 'iris-predictor-00001' };
    expect(metricValue(metrics, 'sluice_activator_held_requests', rev)).toBe(40);
    // The declared body sizes (content-length) of the 40 held requests, exactly.
    const heldBytes = [...Array.from({ length: 30 }, (_, i) => `keep-${i}`), ...Array.from({ length: 10 }, (_, i) => `gone-${i}`)]
      .map((id) => Buffer.byteLength(inferBody(id, 2048)))
      .reduce((a, b) => a + b, 0);
    expect(metricValue(metrics, 'sluice_activator_held_bytes', rev)).toBe(heldBytes);
    expect(metricValue(metrics, 'sluice_activator_rejected_total', { reason: 'revision_queue_full' })).toBe(1);

    for (const a of aborts) a.abort();
    await waitUntil('abandoned requests dropped', () => p.activator.held(p.key) === 30, 5_000);
    const answers = await Promise.all(kept);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.map((a) => a.body.id).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `keep-${i}`).sort());
    expect(answers.every((a) => Number(a.headers.get('x-sluice-cold-start')) >= 2500)).toBe(true);
    expect((await Promise.all(abandoned)).every((e) => e instanceof Error)).toBe(true);
    // The replica saw exactly the 30 kept requests: none of the abandoned ones, none twice.
    expect(await totalPredictions(p)).toBe(30);
    const after = await p.metrics.registry.metrics();
    expect(metricValue(after, 'sluice_activator_rejected_total', { reason: 'client_gone' })).toBe(10);
    expect(metricValue(after, 'sluice_activator_held_requests', rev)).toBe(0);
    expect(metricValue(after, 'sluice_activator_hold_seconds_count', rev)).toBe(30);
    expect(metricValue(after, 'sluice_cold_start_seconds_count', rev)).toBe(30);
  });

  it('never sends a replica more than containerConcurrency and spreads a backlog over replicas as they become ready', async () => {
    plane = await startDataPlane({
      containerConcurrency: 4,
      wakeTo: 3,
      env: {
        SLUICE_DEMO_STARTUP_DELAY_MS: '300',
        SLUICE_DEMO_MAX_CONCURRENCY: '4',
        SLUICE_DEMO_REJECT_OVER_CAPACITY: '1',
        SLUICE_DEMO_LATENCY_MS: '20',
      },
    });
    const p = plane;
    const n = 400;
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => infer(p.url, `r-${i}`)));
    // REJECT_OVER_CAPACITY=1: one request over 4 on any replica would have come back 503 from that replica.
    expect(answers.filter((a) => a.status !== 200).map((a) => a.body)).toEqual([]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(n);
    const per = await Promise.all(p.replicaUrls().map((u) => demoStats(u)));
    expect(per).toHaveLength(3);
    expect(per.reduce((s, x) => s + x.predictions, 0)).toBe(n);
    for (const s of per) expect(s.predictions).toBeGreaterThan(n / 10);
  });

  it('retries a request that could not connect on another replica; the dead address leaves rotation', async () => {
    plane = await startDataPlane({ containerConcurrency: 4, env: { SLUICE_DEMO_LATENCY_MS: '5' } });
    const p = plane;
    await p.backend.scale(p.key, 1);
    await waitUntil('a ready replica', () => p.activator.activeReplicas(p.key) === 1, 15_000);
    // A replica address nobody listens on (a port we bound and closed).
    const dead = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    p.activator.onEndpointEvent({
      type: 'ready',
      endpoint: { id: `${p.key}#ghost`, revisionKey: p.key, url: `http://127.0.0.1:${dead}`, capacity: 4, readinessPath: '/v2/health/ready' },
    });
    expect(p.activator.activeReplicas(p.key)).toBe(2);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => infer(p.url, `x-${i}`, { bytes: 512 })));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(await totalPredictions(p)).toBe(40);
    expect(p.activator.replicas(p.key).find((r) => r.id.endsWith('#ghost'))?.state).toBe('failed');
  });
});

describe('readiness probes on real replicas', () => {
  it('confirms a new replica with its own probe of the runtime readiness path before it takes traffic', async () => {
    const probed: string[] = [];
    /** Predictions the replica had served when our probe first confirmed it: must be none. */
    let servedAtConfirmation: number | null = null;
    plane = await startDataPlane({
      containerConcurrency: 4,
      env: { SLUICE_DEMO_STARTUP_DELAY_MS: '300' },
      probes: {
        confirmNewReplicas: true,
        intervalMs: 50,
        probe: async (ep, timeoutMs) => {
          probed.push(`${ep.url}${ep.readinessPath ?? ''}`);
          const ok = await httpProbe(ep, timeoutMs);
          // Before answering the activator: the replica cannot have had traffic unless it got it unconfirmed.
          if (ok && servedAtConfirmation === null) servedAtConfirmation = (await demoStats(ep.url)).predictions;
          return ok;
        },
      },
    });
    const p = plane;
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => infer(p.url, `p-${i}`)));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(servedAtConfirmation).toBe(0);
    expect(await totalPredictions(p)).toBe(8);
    expect(probed.every((u) => /^http:\/\/127\.0\.0\.1:\d+\/v2\/health\/ready$/.test(u))).toBe(true);
    expect(p.activator.replicas(p.key).map((r) => r.state)).toEqual(['active']);
  });
});

describe('held request bodies: counted by their declared size and bounded', () => {
  // Memory (RSS) while bodies wait is measured by the benchmark, not here: `npm run load:held-memory -- 200 1048576`
  // (load-tests/held-memory.ts) runs Sluice in its own process. Here: the hold queue's own accounting and bound.
  it('200 held requests streaming 1 MiB bodies count exactly 200 MiB, and the next one is refused at maxHeldBytesPerRevision', async () => {
    const count = 200;
    const size = 1024 * 1024;
    plane = await startDataPlane({
      containerConcurrency: 4,
      env: { SLUICE_DEMO_STARTUP_DELAY_MS: '60000' },
      limits: { maxHeldPerRevision: 1000, maxHeldBytesPerRevision: count * size },
    });
    const p = plane;
    // The clients live in another process, so their sockets and buffers are not this one's.
    const script = `
      const net = require('node:net');
      const [port, count, size] = process.argv.slice(1).map(Number);
      const chunk = Buffer.alloc(64 * 1024, 120);
      for (let i = 0; i < count; i++) {
        const s = net.connect(port, '127.0.0.1', () => {
          s.write('POST /v2/models/iris/infer HTTP/1.1\\r\\nhost: x\\r\\ncontent-type: application/json\\r\\ncontent-length: ' + size + '\\r\\n\\r\\n');
          let sent = 0;
          const pump = () => { while (sent < size) { sent += chunk.length; if (!s.write(chunk)) { s.once('drain', pump); return; } } };
          pump();
        });
        s.on('error', () => {});
      }
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['-e', script, String(new URL(p.url).port), String(count), String(size)], { stdio: 'ignore' });
    try {
      await waitUntil(`${count} requests held`, () => p.activator.held(p.key) === count, 20_000);
      const text = await p.metrics.registry.metrics();
      expect(metricValue(text, 'sluice_activator_held_bytes', { revision: 'iris-predictor-00001' })).toBe(count * size);
      expect(metricValue(text, 'sluice_activator_held_requests', { revision: 'iris-predictor-00001' })).toBe(count);
      // One more byte of declared body is over the bound: refused at once, naming the limit, and not held.
      const over = await fetch(`${p.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x' });
      expect(over.status).toBe(503);
      expect(((await over.json()) as { error: string }).error).toBe(
        `held request bodies for revision iris-predictor-00001 exceed maxHeldBytesPerRevision=${count * size}`,
      );
      expect(p.activator.held(p.key)).toBe(count);
      expect(metricValue(await p.metrics.registry.metrics(), 'sluice_activator_rejected_total', { reason: 'revision_bytes_full' })).toBe(1);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
