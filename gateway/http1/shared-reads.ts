import { Socket } from 'node:net';

/**
 * Reads of the data port's client connections into one buffer they all share, handed to a callback, as net's
 * `onread` option does for a socket Sluice connects (the upstream client uses it). A socket a server accepts
 * cannot be given that option, so this sets the same three fields net's constructor would, found by their
 * names on a socket (net keeps them as symbols), and switches the handle over as net does
 * (`useUserBuffer`). What it saves: no Buffer allocated per read, no stream push, no 'data' event, no
 * `process.nextTick` per read.
 *
 * One buffer serves every connection because a read and its callback run to completion on the one thread before
 * any other read begins: the callback must copy what it keeps (strings, bodies), since the next read of any
 * connection overwrites the buffer. Pausing and resuming the socket stop and start its handle at once, as for
 * any `onread` socket.
 */
const SHARED_READ_BYTES = 64 * 1024;
let shared: Buffer | null = null;

interface Fields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

function fieldsOf(): Fields | null {
  const probe = new Socket();
  const byName = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
  const buffer = byName.get('kBuffer');
  const callback = byName.get('kBufferCb');
  const generator = byName.get('kBufferGen');
  probe.destroy();
  return buffer && callback && generator ? { buffer, callback, generator } : null;
}

/** net's fields for `onread`, or null on a Node that keeps them otherwise (then reads are 'data' events). */
const fields: Fields | null = fieldsOf();

/**
 * Makes `socket`'s reads go to `onRead(bytes)` (a view of the shared buffer, valid only during the call) instead
 * of 'data' events. False, and the socket as it was, when this Node's net does not have the fields or the
 * handle cannot take a buffer of its own.
 */
export function readShared(socket: Socket, onRead: (bytes: Buffer) => void): boolean {
  const f = fields;
  const h = (socket as unknown as { _handle: { useUserBuffer?: (b: Uint8Array) => void } | null })._handle;
  if (f === null || h === null || typeof h.useUserBuffer !== 'function') return false;
  const buf = (shared ??= Buffer.allocUnsafeSlow(SHARED_READ_BYTES));
  const s = socket as unknown as Record<symbol, unknown>;
  s[f.buffer] = buf;
  s[f.generator] = null;
  s[f.callback] = (n: number): boolean => {
    onRead(buf.subarray(0, n));
    return true;
  };
  h.useUserBuffer(buf);
  return true;
}
