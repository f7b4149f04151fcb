/**
 * The `http1Server` setting picks who handles the data port's HTTP/1.1 connections in `sluice serve`: Sluice's
 * own handler by default, node:http's server with `node`. The two answer an HTTP/1.1 request without a Host
 * header differently (JSON naming the header, against Node's empty 400), which tells them apart from outside.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { startTestSluice } from '../support/embedded.js';

let s: Embedded | null = null;
afterEach(async () => {
  await s?.close();
  s = null;
});

/** Writes `bytes` on a fresh connection; resolves with everything the server sent until it closed. */
function raw(url: string, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(Number(new URL(url).port), '127.0.0.1');
    let got = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => (got += d));
    c.on('error', reject);
    c.on('close', () => resolve(got));
    c.write(bytes);
    setTimeout(() => c.destroy(), 3000).unref();
  });
}

const NO_HOST = 'GET /v2/health/live HTTP/1.1\r\n\r\n';

describe('http1Server', () => {
  it('default (sluice): an HTTP/1.1 request without Host gets 400 naming the header; the same port serves a normal request', async () => {
    s = await startTestSluice(null);
    const answer = await raw(s.dataUrl, NO_HOST);
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain('"error":"an HTTP/1.1 request must carry a Host header"');
    expect((await fetch(`${s.dataUrl}/v2/health/live`)).status).toBe(200);
  });

  it('node: node:http\'s server answers the same request with its own empty 400', async () => {
    s = await startTestSluice(null, { http1Server: 'node' });
    const answer = await raw(s.dataUrl, NO_HOST);
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).not.toContain('Host header');
    expect((await fetch(`${s.dataUrl}/v2/health/live`)).status).toBe(200);
  });
});
