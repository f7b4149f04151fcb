import { AsyncResource, executionAsyncId } from 'node:async_hooks';
import { connect, createServer, type ClientHttp2Session, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { leanBindForTests, leanRequest } from './lean-request.js';

describe('leanBind', () => {
  const bind = leanBindForTests.bind;

  it('runs the function in the resource’s async scope, with the caller’s this and arguments', () => {
    const r = new AsyncResource('Test');
    let seen: { id: number; self: unknown; args: unknown[] } | null = null;
    const f = bind.call(r, function (this: unknown, a: number, b: string) {
      seen = { id: executionAsyncId(), self: this, args: [a, b] };
      return a + 1;
    }) as unknown as (this: unknown, a: number, b: string) => number;
    const self = { x: 1 };
    expect(f.call(self, 41, 'b')).toBe(42);
    expect(seen).toEqual({ id: r.asyncId(), self, args: [41, 'b'] });
    expect(f.length).toBe(2);
    expect((f as unknown as { asyncResource: AsyncResource }).asyncResource).toBe(r);
  });

  it('binds thisArg when given', () => {
    const r = new AsyncResource('Test');
    const self = { y: 2 };
    const f = bind.call(r, function (this: unknown) {
      return [this, executionAsyncId()];
    }, self);
    expect(f()).toEqual([self, r.asyncId()]);
  });

  it('refuses a non-function as Node’s bind does', () => {
    const r = new AsyncResource('Test');
    expect(() => bind.call(r, 'nope' as unknown as () => void)).toThrow(/"fn" argument must be of type function/);
  });
});

describe('leanRequest', () => {
  let server: Http2Server | null = null;
  let session: ClientHttp2Session | null = null;
  afterEach(async () => {
    session?.destroy();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = null;
  });

  it('makes a request that is answered, and leaves Node’s own bind in place after it', async () => {
    const nodeBind = AsyncResource.prototype.bind;
    server = createServer();
    server.on('stream', (s, h) => {
      s.respond({ ':status': 200, 'x-path': h[':path'] as string });
      s.end('hello');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    session.on('error', () => {});
    // Before the connection is up (the connect callback is queued) and after.
    for (const wait of [false, true]) {
      if (wait && session.connecting) await new Promise((r) => session!.once('connect', r));
      const s = leanRequest(session, { ':path': `/p${String(wait)}` }, { endStream: true });
      expect(AsyncResource.prototype.bind).toBe(nodeBind);
      const [status, path, body] = await new Promise<[unknown, unknown, string]>((resolve, reject) => {
        let h: Record<string, unknown> = {};
        let text = '';
        s.on('response', (r) => (h = r));
        s.on('data', (c: Buffer) => (text += c.toString()));
        s.on('end', () => resolve([h[':status'], h['x-path'], text]));
        s.on('error', reject);
      });
      expect([status, path, body]).toEqual([200, `/p${String(wait)}`, 'hello']);
    }
  });

  it('puts Node’s bind back when request() throws', () => {
    const nodeBind = AsyncResource.prototype.bind;
    const dead = connect('http://127.0.0.1:1');
    dead.on('error', () => {});
    dead.destroy();
    expect(() => leanRequest(dead, { ':path': '/' }, {})).toThrow(/session has been destroyed/);
    expect(AsyncResource.prototype.bind).toBe(nodeBind);
  });

  it('is active on this Node (20 builds deprecation wrappers in bind)', () => {
    // When a Node release drops them, leanRequest calls session.request() as it is and this test says so.
    expect(leanBindForTests.active).toBe(AsyncResource.prototype.bind.toString().includes('deprecate('));
    if (process.versions.node.startsWith('20.')) expect(leanBindForTests.active).toBe(true);
  });
});
