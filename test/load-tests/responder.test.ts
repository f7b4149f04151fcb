/**
 * The C upstream (load-tests/upstreams/responder.c, `--upstream c`, built with gcc on first use): it must answer
 * what the Node responder answers for a plain request, follow the framings a proxy or generator sends
 * (Content-Length, chunked, pipelined, Connection: close), count what the harness reads back from `/__stats`, and
 * refuse loudly what it cannot do (the Node responder's knobs, an oversized or malformed head).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildRegistry } from '../../load-tests/harness/child-process.js';
import { defaultUpstream, parseSettings } from '../../load-tests/harness/settings.js';
import { startUpstreamPair, type RunningUpstreams } from '../../load-tests/upstreams/upstream-pair.js';

const BODY = '{"predictions":[[0.1,0.9]],"model":"bench"}';

/** Writes `raw` on a new connection and reads until the server closes it or `timeoutMs` passes. */
function exchange(port: number, raw: string | Buffer, timeoutMs = 2000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false });
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true });
    });
    socket.write(raw);
  });
}

const registry = new ChildRegistry();
let pair: RunningUpstreams;
beforeAll(async () => {
  pair = await startUpstreamPair(registry, 'c');
});
afterAll(async () => {
  await pair.stop();
  await registry.stopAll();
});

describe('the C upstream (--upstream c)', () => {
  it('answers a POST with the Node responder body, keeps the connection and counts it', async () => {
    const [before] = await pair.stats();
    const res = await fetch(`${pair.primary.url}/v1/models/bench:predict`, { method: 'POST', body: '{"instances":[[1,2]]}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe(BODY);
    const [after, canary] = await pair.stats();
    expect(after.name).toBe('primary');
    expect(canary.name).toBe('canary');
    expect(after.requests - before.requests).toBe(1);
  });

  it('answers pipelined requests in order: a Content-Length body, a chunked one with a trailer, then closes when asked', async () => {
    const { port } = pair.canary;
    const [before] = (await pair.stats()).slice(1);
    const raw =
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
      'POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n' +
      'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const { text, closed } = await exchange(port, raw);
    expect(closed).toBe(true);
    const answers = text.split('HTTP/1.1 ').slice(1);
    expect(answers).toHaveLength(3);
    for (const a of answers) expect(a.startsWith('200 OK') && a.endsWith(BODY)).toBe(true);
    expect(answers[2]).toContain('connection: close');
    const [after] = (await pair.stats()).slice(1);
    expect(after!.requests - before!.requests).toBe(3);
  });

  it('keeps an HTTP/1.0 connection that asks for it, saying so, and closes one that does not', async () => {
    const kept = await exchange(pair.primary.port, 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 300);
    expect(kept.closed).toBe(false);
    expect(kept.text).toMatch(/\r\nconnection: keep-alive\r\n\r\n/);
    const plain = await exchange(pair.primary.port, 'GET /b HTTP/1.0\r\n\r\n');
    expect(plain.closed).toBe(true);
    expect(plain.text).toMatch(/\r\nconnection: close\r\n\r\n/);
  });

  it('takes a body that arrives in pieces', async () => {
    const socket = connect(pair.primary.port, '127.0.0.1');
    const got = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (text.endsWith(BODY)) resolve(text);
      });
    });
    socket.write('POST / HTTP/1.1\r\nContent-Le');
    await new Promise((r) => setTimeout(r, 20));
    socket.write('ngth: 4\r\n\r\nab');
    await new Promise((r) => setTimeout(r, 20));
    socket.write('cd');
    expect(await got).toMatch(/^HTTP\/1\.1 200 OK/);
    socket.destroy();
  });

  it('does not count /__stats, and reports its open connections', async () => {
    const [a] = await pair.stats();
    const [b] = await pair.stats();
    expect(b.requests).toBe(a.requests);
    expect(b.openConnections).toBeGreaterThanOrEqual(1);
    expect([b.cancelled, b.delayedAnswered]).toEqual([0, 0]);
  });

  it("refuses the Node responder's knobs with a 400 that says so", async () => {
    for (const query of ['delay_ms=100', 'reset=1']) {
      const res = await fetch(`${pair.primary.url}/v1/models/bench?${query}`);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('no delay_ms or reset knob');
    }
  });

  it('answers 431 to a head over 16 KiB and 400 to a malformed one, and closes both', async () => {
    const big = await exchange(pair.primary.port, `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`);
    expect(big.text).toMatch(/^HTTP\/1\.1 431 /);
    expect(big.closed).toBe(true);
    const bad = await exchange(pair.primary.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(bad.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(bad.closed).toBe(true);
    const chunk = await exchange(pair.primary.port, 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    expect(chunk.text).toMatch(/^HTTP\/1\.1 400 .*\r\n\r\n.*chunk size/s);
  });
});

describe('--upstream', () => {
  it("is each scenario's own unless asked, and c only for the scenarios that never use the knobs", () => {
    expect(parseSettings(['latency']).upstream).toBeUndefined();
    expect(parseSettings(['latency', 'forwarders', '--upstream', 'node']).upstream).toBe('node');
    expect(parseSettings(['saturation', 'scale-out', 'connection-churn', 'latency', 'ingress-limits', '--upstream', 'c']).upstream).toBe('c');
    expect(() => parseSettings(['latency', 'forwarders', '--upstream', 'c'])).toThrow(/--upstream c applies to saturation, scale-out, connection-churn, latency, ingress-limits only, not forwarders/);
    expect(() => parseSettings(['latency', '--upstream', 'rust'])).toThrow(/--upstream must be node or c, got rust/);
  });

  it('defaults to c exactly where c is accepted, and to node elsewhere (forwarders uses the knobs)', () => {
    for (const name of ['saturation', 'scale-out', 'connection-churn', 'latency', 'ingress-limits']) {
      expect(defaultUpstream(name)).toBe('c');
      expect(parseSettings([name, '--upstream', 'c']).upstream).toBe('c');
    }
    for (const name of ['forwarders', 'canary', 'cold-start']) {
      expect(defaultUpstream(name)).toBe('node');
      expect(() => parseSettings([name, '--upstream', 'c'])).toThrow(/--upstream c applies to/);
    }
  });
});
