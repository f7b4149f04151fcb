import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Forwarder, type ForwardOptions } from './forwarder.js';

/** `forwardTo` as a promise: the status written, or the error it failed with. */
function forward(f: Forwarder, url: string, req: IncomingMessage, res: ServerResponse, o: ForwardOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => f.forwardTo(url, req, res, o, { forwarded: resolve, forwardFailed: reject }));
}

/** Listens on a free loopback port; resolves with the server's base URL. */
async function listening(server: Server | NetServer): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes the forwarder, then the servers and their open connections. */
async function closeAll(f: Forwarder, ...servers: Array<Server | NetServer>): Promise<void> {
  await f.close();
  for (const s of servers) {
    s.close();
    if ('closeAllConnections' in s) s.closeAllConnections();
  }
}

describe('Forwarder.warmUp', () => {
  it('resolves on its own (no replica needed), twice, and the forwarder then forwards as usual', async () => {
    const f = new Forwarder();
    await f.warmUp();
    await f.warmUp();
    const replica = createServer((req, res) => res.end(`replica saw ${req.url}`));
    const replicaUrl = await listening(replica);
    const front = createServer((req, res) => {
      void forward(f, replicaUrl, req, res, {
        path: req.url ?? '/',
        timeoutMs: 5_000,
        signal: new AbortController().signal,
      });
    });
    const frontUrl = await listening(front);
    const body = await new Promise<string>((resolve, reject) => {
      httpRequest(`${frontUrl}/x`, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toBe('replica saw /x');
    await closeAll(f, front, replica);
  });
});

describe('Forwarder.forward', () => {
  it('sends the body byte for byte, again after a replica that refused the connection (its body untouched); hop-by-hop response headers are dropped, repeated ones kept', async () => {
    const f = new Forwarder();
    const seen: string[] = [];
    const replica = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString('latin1')));
      req.on('end', () => {
        seen.push(text);
        res.writeHead(201, [
          'Content-Type', 'text/plain',
          'Connection', 'keep-alive, X-Hop',
          'X-Hop', 'one hop only',
          'Set-Cookie', 'a=1',
          'Set-Cookie', 'b=2',
          'Constructor', 'c',
          'toString', 't',
        ]).end(`got ${text.length}`);
      });
    });
    const replicaUrl = await listening(replica);
    const gone = createServer();
    const goneUrl = await listening(gone);
    await new Promise<void>((r) => gone.close(() => r()));
    const outcomes: string[] = [];
    const front = createServer((req, res) => {
      const o = { path: req.url ?? '/', timeoutMs: 5_000, signal: new AbortController().signal };
      forward(f, goneUrl, req, res, o).then(
        () => outcomes.push('first answered'),
        (err: { status: number; retryable: boolean }) => {
          outcomes.push(`first ${err.status} retryable=${err.retryable}`);
          void forward(f, replicaUrl, req, res, o).then((s) => outcomes.push(`second ${s}`));
        },
      );
    });
    const frontUrl = await listening(front);
    const body = 'é'.repeat(10) + 'x'.repeat(40_000);
    const answer = await new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
      const req = httpRequest(`${frontUrl}/p`, { method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      });
      req.on('error', reject);
      // Sent in two pieces, the second a little later.
      req.write(body.slice(0, 1000));
      setTimeout(() => req.end(body.slice(1000)), 50);
    });
    expect(outcomes).toEqual(['first 502 retryable=true', 'second 201']);
    expect(seen).toEqual([Buffer.from(body).toString('latin1')]);
    expect(answer.status).toBe(201);
    expect(answer.text).toBe(`got ${Buffer.byteLength(body)}`);
    expect(answer.headers['x-hop']).toBeUndefined();
    expect(answer.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(answer.headers['content-type']).toBe('text/plain');
    // Names an object's prototype has are headers like any other.
    expect(answer.headers['constructor']).toBe('c');
    expect(answer.headers['tostring']).toBe('t');
    await closeAll(f, front, replica);
  });
});

describe('Forwarder.forwardTo: bodies that come in the same read as their head', () => {
  it('pipelined requests, their heads and bodies in one write (one over the stream buffer), each reach the replica with their own body, and each request stream ends', async () => {
    const f = new Forwarder();
    const replica = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.url} ${Buffer.concat(chunks).toString('latin1')}`));
    });
    const replicaUrl = await listening(replica);
    let ended = 0;
    const front = createServer((req, res) => {
      // (An 'end' listener does not start the stream flowing: the body is still taken in one read.)
      req.once('end', () => ended++);
      void forward(f, replicaUrl, req, res, { path: req.url ?? '/', timeoutMs: 5_000, signal: new AbortController().signal });
    });
    await listening(front);
    const bodies = ['{"a":1}', 'second body', 'z'.repeat(20_000), 'last'];
    const wire = bodies.map((b, i) => `POST /r${i} HTTP/1.1\r\nhost: x\r\ncontent-length: ${b.length}\r\n\r\n${b}`).join('');
    const text = await new Promise<string>((resolve, reject) => {
      let got = '';
      const sock = netConnect((front.address() as AddressInfo).port, '127.0.0.1', () => sock.write(wire, 'latin1'));
      sock.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if ((got.match(/HTTP\/1\.1 200/g) ?? []).length === bodies.length && got.endsWith('last')) sock.end();
      });
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
    });
    const answers = text.split(/HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\n/).filter((x) => x !== '');
    expect(answers).toEqual(bodies.map((b, i) => `/r${i} ${b}`));
    // Every request stream still ends (the server lets go of a request only at its end).
    expect(ended).toBe(bodies.length);
    await closeAll(f, front, replica);
  });
});

describe('Forwarder.forwardTo through the own upstream client', () => {
  it('a header value with CR/LF from a stage → 502 not retried, naming the header, and nothing reaches the replica; a malformed answer → 502 naming it', async () => {
    const f = new Forwarder();
    let connections = 0;
    const replica = createNetServer((s) => {
      connections++;
      s.on('data', () => s.write('HTTP/1.1 2OO OK\r\n\r\n'));
    });
    const url = await listening(replica);
    const errors: Array<{ status: number; retryable: boolean; message: string }> = [];
    const front = createServer((req, res) => {
      const bad = req.url === '/bad-header';
      forward(f, url, req, res, {
        path: req.url ?? '/',
        timeoutMs: 5_000,
        signal: new AbortController().signal,
        observer: { upstreamHeaders: (h) => void (bad ? (h['x-stage'] = 'a\r\nx-injected: 1') : undefined), responseStart: () => undefined },
      }).then(
        () => undefined,
        (err: { status: number; retryable: boolean; message: string }) => {
          errors.push({ status: err.status, retryable: err.retryable, message: err.message });
          res.writeHead(err.status).end();
        },
      );
    });
    const frontUrl = await listening(front);
    const get = (path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        httpRequest(`${frontUrl}${path}`, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        })
          .on('error', reject)
          .end();
      });
    expect(await get('/bad-header')).toBe(502);
    expect(connections).toBe(0);
    expect(await get('/x')).toBe(502);
    expect(errors[0]).toMatchObject({ status: 502, retryable: false });
    expect(errors[0]!.message).toContain('x-stage');
    expect(errors[1]).toMatchObject({ status: 502, retryable: false });
    expect(errors[1]!.message).toContain('status line "HTTP/1.1 2OO OK" is not HTTP/1.x');
    await closeAll(f, front, replica);
  });
});
