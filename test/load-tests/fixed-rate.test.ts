import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedRateBinary, parseFixedRateSummary, runFixedRate } from '../../load-tests/harness/fixed-rate.js';
import { REQUESTS } from '../../load-tests/harness/load-result.js';
import { startJsonResponder, type RunningResponder } from '../../load-tests/upstreams/json-responder.js';
import { parseTimeline, slowWindows } from '../../load-tests/timeline.js';

// The C fixed-rate generator (load-tests/harness/fixed-rate.c, compiled with gcc on first use). Counts and the
// shape of what is measured, never speed: this machine may be busy.
let upstream: RunningResponder;
let odd: Server;
let oddUrl: string;
beforeAll(async () => {
  upstream = await startJsonResponder('primary');
  // chunked answers, a 404 and a server that closes after each answer: the framings the generator must follow
  odd = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.write('{"a":');
        setImmediate(() => res.end('1}'));
      } else if (req.url === '/needs-auth') {
        res.statusCode = req.headers.authorization === 'Bearer t0ken' && req.headers['x-extra'] === 'yes' ? 200 : 401;
        res.end('{}');
      } else if (req.url === '/close') {
        res.setHeader('connection', 'close');
        res.end('{}');
      } else {
        res.statusCode = 404;
        res.end('no');
      }
    });
  });
  await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
  oddUrl = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await upstream.stop();
  await new Promise((resolve) => odd.close(resolve));
});

describe('fixed-rate generator (C)', () => {
  it('sends exactly rate × (discard + duration) requests with the POST body and records rate × duration', async () => {
    const before = upstream.stats().requests;
    const result = await runFixedRate(upstream.url, REQUESTS.POST, 200, 1, 16, 0.5);
    expect(result.completed).toBe(200);
    expect(upstream.stats().requests - before).toBe(300);
    expect(result.errors + result.non2xx).toBe(0);
    const { p50, p90, p99, max } = result.latency;
    expect([p50 > 0, p50 <= p90, p90 <= p99, p99 <= max]).toEqual([true, true, true, true]);
    expect(result.serviceLatency!.p50).toBeLessThanOrEqual(p50);
    expect(result.perSecond.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(200);
  });

  it('charges an arrival that waited for a free connection from its due time', async () => {
    // this process (the upstream) stalls 300 ms in the middle of a 1 s run; with 4 connections, most arrivals
    // due in the stall wait in the generator's queue, so only the latency from the intended time shows it all
    fixedRateBinary(); // compiled before the stall is timed (when this test runs alone), so the two clocks start together
    setTimeout(() => {
      const until = Date.now() + 300;
      while (Date.now() < until);
    }, 500);
    const dir = mkdtempSync(join(tmpdir(), 'fixed-rate-timeline-'));
    try {
      const result = await runFixedRate(upstream.url, REQUESTS.GET, 200, 1, 4, 0, join(dir, 't.txt'));
      expect(result.completed).toBe(200);
      expect(result.latency.p90).toBeGreaterThan(100);
      expect(result.serviceLatency!.p90).toBeLessThan(result.latency.p90);
      // the timeline has every recorded request, and puts the stall where it was: due from ~500 ms on
      const rows = parseTimeline(readFileSync(join(dir, 't.txt'), 'utf8'));
      expect(rows).toHaveLength(200);
      expect(rows.every((r) => r.latencyMs >= r.serviceMs && r.connection >= 0 && r.connection < 4)).toBe(true);
      expect(rows.filter((r) => r.newConnection)).toHaveLength(4);
      const slow = slowWindows(rows, 100, 100);
      expect(slow.length).toBeGreaterThan(0);
      expect(slow[0]!.startMs).toBeGreaterThanOrEqual(300);
      expect(slow[0]!.startMs).toBeLessThanOrEqual(700);
      expect(slow.at(-1)!.startMs - slow[0]!.startMs).toBeLessThanOrEqual(300);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows chunked answers and servers that close, and counts non-2xx answers', async () => {
    const chunked = await runFixedRate(oddUrl, { method: 'GET', path: '/chunked', headers: {} }, 100, 1, 4, 0);
    expect([chunked.completed, chunked.errors, chunked.non2xx]).toEqual([100, 0, 0]);
    const closing = await runFixedRate(oddUrl, { method: 'GET', path: '/close', headers: {} }, 100, 1, 4, 0);
    expect([closing.completed, closing.errors, closing.non2xx]).toEqual([100, 0, 0]);
    const missing = await runFixedRate(oddUrl, { method: 'GET', path: '/missing', headers: {} }, 100, 1, 4, 0);
    expect([missing.completed, missing.non2xx]).toEqual([100, 100]);
  });

  it('sends the extra headers of a POST (an Authorization header for the auth-cost benchmark)', async () => {
    const shape = { method: 'POST' as const, path: '/needs-auth', body: '{}', headers: { 'content-type': 'application/json', authorization: 'Bearer t0ken', 'x-extra': 'yes' } };
    const ok = await runFixedRate(oddUrl, shape, 100, 1, 4, 0);
    expect([ok.completed, ok.errors, ok.non2xx]).toEqual([100, 0, 0]);
    const without = await runFixedRate(oddUrl, { ...shape, headers: { 'content-type': 'application/json' } }, 100, 1, 4, 0);
    expect(without.non2xx).toBe(100);
    await expect(runFixedRate(oddUrl, { ...shape, headers: { authorization: 'a\r\nb' } }, 10, 1, 1)).rejects.toThrow(/CR or LF/);
  });

  it('says what it cannot send rather than sending something else', async () => {
    await expect(runFixedRate('http://localhost:1', REQUESTS.GET, 10, 1, 1)).rejects.toThrow(/IPv4/);
    await expect(runFixedRate(upstream.url, { ...REQUESTS.GET, headers: { authorization: 'x' } }, 10, 1, 1)).rejects.toThrow(/authorization/);
    expect(() => parseFixedRateSummary('{"completed":1}')).toThrow(/errors/);
  });
});
