import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Forwarder } from './forwarder.js';

describe('Forwarder.warmUp', () => {
  it('resolves on its own (no replica needed), twice, and the forwarder then forwards as usual', async () => {
    const f = new Forwarder();
    await f.warmUp();
    await f.warmUp();
    const replica = createServer((req, res) => res.end(`replica saw ${req.url}`));
    await new Promise<void>((r) => replica.listen(0, '127.0.0.1', () => r()));
    const front = createServer((req, res) => {
      void f.forward(`http://127.0.0.1:${(replica.address() as AddressInfo).port}`, req, res, {
        path: req.url ?? '/',
        timeoutMs: 5_000,
        signal: new AbortController().signal,
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
    const body = await new Promise<string>((resolve, reject) => {
      httpRequest(`http://127.0.0.1:${(front.address() as AddressInfo).port}/x`, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toBe('replica saw /x');
    await f.close();
    front.close();
    replica.close();
    front.closeAllConnections();
    replica.closeAllConnections();
  });
});
