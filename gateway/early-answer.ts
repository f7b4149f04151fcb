import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

type WriteDone = (err?: Error | null) => void;

/** Write errors of a connection the replica has closed: its answer may still be waiting to be read. */
const PEER_CLOSED = new Set(['EPIPE', 'ECONNRESET']);

/**
 * A replica may answer before it has read the whole request body (413 for a body over its limit, 401, 400)
 * and close the connection. The close reaches us as a reset, and the next body write fails with EPIPE. undici
 * destroys the socket on that write error, often before it has read the answer already sitting in the kernel's
 * receive buffer, so the client got a 502 instead of the replica's 413.
 *
 * This holds a write's EPIPE/ECONNRESET back until the socket's read side has finished (the answer and the end
 * of the stream were read, or the read failed too). undici then sees the replica's answer first and completes
 * the request with it; when there was no answer, the read side fails the request as before. Further writes
 * wait behind the held one (backpressure), so nothing is buffered beyond the stream's high-water mark.
 *
 * One closure per connection; nothing per write.
 */
export function keepEarlyAnswers(socket: Socket): void {
  const write = socket._write;
  const writev = socket._writev;
  let readEnded = false;
  let pending: WriteDone | null = null;
  let held: { done: WriteDone; err: Error } | null = null;
  // A Writable has at most one write in flight, so one slot for its callback is enough.
  const written: WriteDone = (err) => {
    const done = pending!;
    pending = null;
    if (err && !readEnded && PEER_CLOSED.has((err as NodeJS.ErrnoException).code ?? '')) {
      held = { done, err };
      return;
    }
    done(err);
  };
  const readFinished = (): void => {
    readEnded = true;
    const h = held;
    held = null;
    if (h) h.done(h.err);
  };
  // 'close' rather than 'end': on 'end' undici completes the answer, and releasing the error any earlier could
  // fail requests queued behind it. A socket that is destroyed calls no write callback of its own.
  socket.once('close', readFinished);
  socket._write = function (chunk: unknown, encoding: BufferEncoding, done: WriteDone): void {
    pending = done;
    write.call(this, chunk, encoding, written);
  };
  if (writev) {
    socket._writev = function (chunks: Array<{ chunk: unknown; encoding: BufferEncoding }>, done: WriteDone): void {
      pending = done;
      writev.call(this, chunks, written);
    };
  }
}

/** undici's default connector, with every socket it opens wrapped by keepEarlyAnswers. */
export function earlyAnswerConnector(): buildConnector.connector {
  const connect = buildConnector({});
  return (options, callback) =>
    connect(options, (err, socket) => {
      if (socket) keepEarlyAnswers(socket as Socket);
      if (err) callback(err, null);
      else callback(null, socket!);
    });
}
