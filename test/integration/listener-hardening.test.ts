/**
 * The data listener against hostile clients, over raw sockets: request smuggling is refused (conflicting
 * Content-Length/Transfer-Encoding, duplicate lengths, obsolete line folding) and never reaches a replica; a
 * request for a host Sluice does not serve is never forwarded (no open proxy, absolute-form and CONNECT
 * included); 10,000 slow connections do not stop normal requests from being served.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

const SLOW_CONNECTIONS = 10_000;
const BODY = JSON.stringify({ inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'FP32', data: [6.8, 2.8, 4.8, 1.4] }] });

/** Writes `bytes` on a fresh connection; resolves with all the server sent until it closed (or 2 s passed). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(got) : reject(err)));
    s.on('close', () => resolve(got));
    s.write(bytes);
    setTimeout(() => s.destroy(), 2000).unref();
  });
}

describe('listener hardening (raw sockets against an embedded sluice with a real replica)', () => {
  let s: Embedded;
  let port: number;
  /** Infer requests the replica answered (the demo runtime counts in its own metric; the gateway's is enough). */
  const forwarded = async (): Promise<number> => {
    const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
    return metricValue(text, 'sluice_requests_total', { revision: 'warm-predictor-00001', code: '200' }) ?? 0;
  };

  beforeAll(async () => {
    const dir = configFolder({ 'warm.yaml': demoService('warm', { predictor: '    minReplicas: 1\n' }) });
    s = await startTestSluice(dir, { maxConnections: SLOW_CONNECTIONS + 500, headerTimeoutSeconds: 60 });
    port = Number(new URL(s.dataUrl).port);
    await waitUntil('warm to have a ready replica', () => s.backend.counts('default/warm-predictor-00001').ready >= 1, 30_000);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
  });

  const head = (extra: string): string => `POST /v2/models/warm/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}`;

  it('a well-formed request over the same raw socket is served (the baseline the refusals compare to)', async () => {
    const ok = await raw(port, `${head(`Content-Length: ${BODY.length}\r\nConnection: close\r\n\r\n`)}${BODY}`);
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    // The count the refusals below are checked against does see a forwarded request.
    await waitUntil('the forwarded request to be counted', async () => (await forwarded()) >= 1, 5_000);
  });

  it.each([
    ['Content-Length with Transfer-Encoding', `${head(`Content-Length: ${BODY.length}\r\nTransfer-Encoding: chunked\r\n\r\n`)}0\r\n\r\n${BODY}`],
    ['two different Content-Lengths', `${head(`Content-Length: ${BODY.length}\r\nContent-Length: 5\r\n\r\n`)}${BODY}`],
    ['an obsolete folded header line', `${head(`Content-Length: ${BODY.length}\r\nX-Folded: a\r\n  b\r\n\r\n`)}${BODY}`],
    ['a Transfer-Encoding that is not chunked last', `${head('Transfer-Encoding: chunked, identity\r\n\r\n')}${BODY}`],
    ['a space before the header colon', `${head(`Content-Length : ${BODY.length}\r\n\r\n`)}${BODY}`],
  ])('%s is refused with 400 and never forwarded', async (_name, bytes) => {
    const before = await forwarded();
    const answer = await raw(port, bytes);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('malformed HTTP request');
    // Nothing smuggled behind it was answered either: one response, then the connection closed.
    expect(answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(await forwarded()).toBe(before);
  });

  describe('no open proxy', () => {
    let victim: Server;
    let victimPort: number;
    let victimHits = 0;

    beforeAll(async () => {
      victim = createServer((_req, res) => {
        victimHits++;
        res.end('secret');
      });
      await new Promise<void>((r) => victim.listen(0, '127.0.0.1', r));
      victimPort = (victim.address() as AddressInfo).port;
    });

    afterAll(() => {
      victim.close();
    });

    it('a host it does not serve gets 404, whether in Host or in an absolute-form target, and CONNECT gets no tunnel', async () => {
      const byHost = await raw(port, `GET /secret HTTP/1.1\r\nHost: 127.0.0.1:${victimPort}\r\nConnection: close\r\n\r\n`);
      expect(byHost).toMatch(/^HTTP\/1\.1 404 /);
      const absolute = await raw(port, `GET http://127.0.0.1:${victimPort}/secret HTTP/1.1\r\nHost: 127.0.0.1:${victimPort}\r\nConnection: close\r\n\r\n`);
      expect(absolute).toMatch(/^HTTP\/1\.1 400 /);
      expect(absolute).toContain('is not an absolute path');
      const servedHostAbsolute = await raw(port, `POST http://warm.default.example.com/v2/models/warm/infer HTTP/1.1\r\nHost: 127.0.0.1:${victimPort}\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`);
      expect(servedHostAbsolute).toMatch(/^HTTP\/1\.1 400 /);
      const tunnel = await raw(port, `CONNECT 127.0.0.1:${victimPort} HTTP/1.1\r\nHost: 127.0.0.1:${victimPort}\r\n\r\n`);
      expect(tunnel).not.toMatch(/^HTTP\/1\.1 2/);
      expect(victimHits).toBe(0);
    });
  });

  describe(`${SLOW_CONNECTIONS} slow connections`, () => {
    let slow: ChildProcess;

    afterAll(() => {
      slow?.kill('SIGKILL');
    });

    it('do not stop normal requests from being served', async () => {
      // The slow clients live in another process (their file descriptors count against its own limit): each
      // connection sends half a request head and then nothing.
      const script = `
        const net = require('net');
        let open = 0, failed = 0;
        const sockets = [];
        const one = () => new Promise((resolve) => {
          const s = net.connect(${port}, '127.0.0.1', () => { s.write('POST /v2/models/warm/infer HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: '); open++; resolve(); });
          s.on('error', () => { failed++; resolve(); });
          sockets.push(s);
        });
        (async () => {
          for (let i = 0; i < ${SLOW_CONNECTIONS}; i += 500) await Promise.all(Array.from({ length: Math.min(500, ${SLOW_CONNECTIONS} - i) }, one));
          console.log(JSON.stringify({ open, failed }));
        })();
        setInterval(() => {}, 1000);`;
      slow = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const [line] = (await once(slow.stdout!, 'data')) as [Buffer];
      const { open, failed } = JSON.parse(line.toString()) as { open: number; failed: number };
      expect({ open, failed }).toEqual({ open: SLOW_CONNECTIONS, failed: 0 });
      await waitUntil('the gateway to hold every slow connection', () => s.gateway !== undefined && open === SLOW_CONNECTIONS, 5_000);
      // Normal clients, on new connections, while all of them wait.
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => fetch(`${s.dataUrl}/v2/models/warm/infer`, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json', connection: 'close' } }).then((r) => r.status)),
      );
      expect(answers.filter((st) => st !== 200)).toEqual([]);
      expect(slow.exitCode).toBeNull();
    }, 120_000);
  });
});
