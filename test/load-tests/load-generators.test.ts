import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClosedLoop } from '../../load-tests/harness/closed-loop.js';
import { REQUESTS } from '../../load-tests/harness/load-result.js';
import { runOpenLoop } from '../../load-tests/harness/open-loop.js';
import { parseSettings } from '../../load-tests/harness/settings.js';
import { probeCapacity } from '../../load-tests/scenarios/measure.js';
import { startJsonResponder, type RunningResponder } from '../../load-tests/upstreams/json-responder.js';

let upstream: RunningResponder;
beforeAll(async () => {
  upstream = await startJsonResponder('primary');
});
afterAll(async () => upstream.stop());

describe('load generators', () => {
  // Counts and the shape of what is measured, never speed: speed lives in the benchmarks (load-tests/), and this
  // machine may be busy.
  it('open loop sends exactly rate × duration recorded requests and measures consistent latencies', async () => {
    const before = upstream.stats().requests;
    const result = await runOpenLoop(upstream.url, REQUESTS.POST, 200, 1, 16, 0.5);
    expect(result.completed).toBe(200);
    expect(upstream.stats().requests - before).toBe(300); // 100 discarded warm-up arrivals + 200 recorded
    expect(result.errors + result.non2xx).toBe(0);
    expect(result.latency.p50).toBeGreaterThan(0);
    const { p50, p90, p99, max } = result.latency;
    expect([p50 <= p90, p90 <= p99, p99 <= max]).toEqual([true, true, true]);
    expect(result.serviceLatency?.p50).toBeLessThanOrEqual(result.latency.p50);
  });

  it('open loop charges a stall to every request it delayed (latency from the intended send time)', async () => {
    // block this process (generator and upstream alike) for 300 ms in the middle of a 1 s run
    setTimeout(() => {
      const until = Date.now() + 300;
      while (Date.now() < until);
    }, 500);
    const result = await runOpenLoop(upstream.url, REQUESTS.GET, 200, 1, 64, 0);
    expect(result.completed).toBe(200);
    expect(result.latency.p90).toBeGreaterThan(100); // ~60 arrivals were due during the stall
    // Counted from the late send, the stall vanishes: the service latency is below the latency it hides.
    expect(result.serviceLatency!.p90).toBeLessThan(result.latency.p90);
  });

  it('closed loop (autocannon) reports throughput and per-second counts', async () => {
    const before = upstream.stats().requests;
    const result = await runClosedLoop(upstream.url, REQUESTS.GET, 4, 1, 'autocannon');
    expect(result.non2xx + result.errors).toBe(0);
    expect(result.completed).toBeGreaterThan(0);
    // Every completed request reached the upstream; at most one per connection was still in flight at the stop.
    const seen = upstream.stats().requests - before;
    expect(seen - result.completed).toBeGreaterThanOrEqual(0);
    expect(seen - result.completed).toBeLessThanOrEqual(4);
    expect(result.perSecond).toHaveLength(1);
    expect(result.throughput).toBeGreaterThan(0);
  });

  it('closed loop (wrk, the default) sends the POST body and counts every answer the upstream gave', async () => {
    const before = upstream.stats().requests;
    const result = await runClosedLoop(upstream.url, REQUESTS.POST, 4, 1);
    expect(result.non2xx + result.errors).toBe(0);
    expect(result.completed).toBeGreaterThan(0);
    const seen = upstream.stats().requests - before;
    expect(seen - result.completed).toBeGreaterThanOrEqual(0);
    // wrk stops each thread's loop from its timer, so a connection may have written its next request (or had
    // one answered after the stop) beyond the one in flight: a small, bounded excess, never a shortfall.
    expect(seen - result.completed).toBeLessThanOrEqual(3 * 4);
    const { p50, p90, p99, max } = result.latency;
    expect(p50).toBeGreaterThan(0);
    expect([p50 <= p90, p90 <= p99, p99 <= max]).toEqual([true, true, true]);
  });

  it('wrk sends the request shape exactly and counts answers that are not 2xx as non2xx', async () => {
    const bodies = new Set<string>();
    let requests = 0;
    const server = createServer((req, res) => {
      requests += 1;
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.add(`${req.method} ${req.url} ${req.headers['content-type']} ${body}`);
        res.writeHead(503, { 'content-length': '0' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await runClosedLoop(url, REQUESTS.POST, 2, 1);
      expect(result.completed).toBeGreaterThan(0);
      expect(result.non2xx).toBe(result.completed);
      expect(requests).toBeGreaterThanOrEqual(result.completed);
      expect([...bodies]).toEqual([`POST ${REQUESTS.POST.path} application/json ${REQUESTS.POST.body}`]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('the capacity probe measures a warmed system, not one straight after its start', async () => {
    // A server that is slow for its first second of traffic (each answer 250 ms late), as a process is before its
    // code is optimised, and quick after it. Probed cold, 64 connections would get at most 256 answers a second.
    let first = 0;
    const server = createServer((req, res) => {
      first ||= Date.now();
      req.resume();
      req.on('end', () => {
        const answer = () => res.writeHead(200, { 'content-length': '2' }).end('{}');
        if (Date.now() - first < 1000) setTimeout(answer, 250);
        else answer();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const running = { url, stop: async () => undefined };
      const definition = { name: 'cold-start', describe: 'slow at first', splits: false, start: async () => running };
      const settings = parseSettings(['latency', '--warmup', '2', '--duration', '1', '--connections', '64']);
      const probed = await probeCapacity([{ definition, running }], REQUESTS.GET, settings);
      // More than twice what a cold probe could count, with room for a busy machine.
      expect(probed.get('cold-start')).toBeGreaterThan(600);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
