/**
 * readShared on this Node, over real sockets: it must take an accepted socket (a Node whose net renamed the fields
 * would fall back to 'data' events without a word, and the data port would lose what shared reads save; this is
 * where that shows), hand reads to the callback and not as 'data', and stop reading at once while paused.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../test/support/wait.js';
import { readShared } from './shared-reads.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A server and a client connected to it; the server's side of the connection as it was accepted. */
async function pair(): Promise<{ accepted: Socket; client: Socket }> {
  let accepted: Socket | undefined;
  const server = createServer((s) => {
    accepted = s;
    sockets.push(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  sockets.push(client);
  await waitUntil('the server to accept', () => accepted !== undefined, 2_000, 1);
  return { accepted: accepted!, client };
}

describe('readShared', () => {
  it('takes an accepted socket on this Node: reads reach the callback, none comes as a data event', async () => {
    const { accepted, client } = await pair();
    const got: string[] = [];
    let dataEvents = 0;
    accepted.on('data', () => dataEvents++);
    expect(readShared(accepted, (b) => got.push(b.toString()))).toBe(true);
    client.write('first');
    await waitUntil('the first read', () => got.join('') === 'first', 2_000, 1);
    client.write('second');
    await waitUntil('the second read', () => got.join('') === 'firstsecond', 2_000, 1);
    expect(dataEvents).toBe(0);
  });

  it('gives every socket the same buffer: a read is valid only during its callback', async () => {
    const a = await pair();
    const b = await pair();
    const views: Buffer[] = [];
    readShared(a.accepted, (v) => views.push(v));
    readShared(b.accepted, (v) => views.push(v));
    a.client.write('aaaa');
    await waitUntil('a read on a', () => views.length === 1, 2_000, 1);
    b.client.write('bbbb');
    await waitUntil('a read on b', () => views.length === 2, 2_000, 1);
    expect(views[0]!.buffer).toBe(views[1]!.buffer);
    // The first view now shows the second read's bytes: what a connection keeps, it must copy.
    expect(views[0]!.toString()).toBe('bbbb');
  });

  it('a paused socket reads nothing more until it is resumed', async () => {
    const { accepted, client } = await pair();
    const got: string[] = [];
    readShared(accepted, (b) => got.push(b.toString()));
    client.write('before');
    await waitUntil('the first read', () => got.length === 1, 2_000, 1);
    accepted.pause();
    client.write('while paused');
    await waitUntil('the client to hand its bytes to the kernel', () => client.writableLength === 0, 2_000, 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['before']);
    expect(accepted.bytesRead).toBe('before'.length);
    accepted.resume();
    await waitUntil('the read after resume', () => got.join('') === 'beforewhile paused', 2_000, 1);
  });
});
