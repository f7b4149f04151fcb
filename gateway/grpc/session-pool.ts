import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { ForwardError } from '../forwarder.js';

export interface SessionPoolOptions {
  /** HTTP/2 connections per replica at most (grpcSessionsPerReplica). */
  maxSessionsPerReplica: number;
  /** Streams on a session before another one is opened (while under the cap). Default 100. */
  streamsPerSession?: number;
  /** A session with no stream for this long is closed. Default 60 s. */
  idleMs?: number;
  /** Connect timeout. Default 5 s. */
  connectTimeoutMs?: number;
}

interface Pooled {
  session: ClientHttp2Session;
  /** Resolves once connected; rejects with a retryable ForwardError when no connection could be made. */
  ready: Promise<ClientHttp2Session>;
  streams: number;
  /** GOAWAY received or closing: takes no new stream. */
  retired: boolean;
}

/**
 * HTTP/2 client sessions to replicas' gRPC ports, pooled per replica address: a call takes the session with the
 * fewest streams, and a new one is opened (up to `maxSessionsPerReplica`) only when every session carries
 * `streamsPerSession`; past the cap streams share the least busy one (HTTP/2 multiplexes them, and the replica's
 * own MAX_CONCURRENT_STREAMS queues the rest). A session that receives GOAWAY takes no new stream and leaves
 * the pool; its streams finish. Sessions idle for `idleMs` close. The map holds only addresses with a session,
 * so it is bounded by the replicas in use.
 */
export class GrpcSessionPool {
  private readonly byUrl = new Map<string, Pooled[]>();
  private readonly max: number;
  private readonly perSession: number;
  private readonly idleMs: number;
  private readonly connectTimeoutMs: number;
  private closed = false;

  constructor(o: SessionPoolOptions) {
    this.max = Math.max(1, o.maxSessionsPerReplica);
    this.perSession = Math.max(1, o.streamsPerSession ?? 100);
    this.idleMs = o.idleMs ?? 60_000;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 5000;
  }

  /** A connected session to `url` and the function to call when the stream opened on it is done. */
  async acquire(url: string): Promise<{ session: ClientHttp2Session; done: () => void }> {
    if (this.closed) throw new ForwardError(503, false, 'CLOSED', 'Sluice is shutting down');
    let list = this.byUrl.get(url);
    if (!list) {
      list = [];
      this.byUrl.set(url, list);
    }
    let best: Pooled | null = null;
    for (const p of list) {
      // A session whose connection just died may not have said so yet ('close' comes on a later tick).
      if (!p.retired && (p.session.destroyed || p.session.closed || p.session.socket?.destroyed)) p.retired = true;
      if (!p.retired && (best === null || p.streams < best.streams)) best = p;
    }
    if (best === null || (best.streams >= this.perSession && list.length < this.max)) best = this.open(url, list);
    best.streams++;
    const p = best;
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      p.streams--;
    };
    try {
      const session = await p.ready;
      return { session, done };
    } catch (err) {
      done();
      throw err;
    }
  }

  /** Closes every session to `url` gracefully (the replica went away). */
  forget(url: string): void {
    const list = this.byUrl.get(url);
    if (!list) return;
    this.byUrl.delete(url);
    for (const p of list) {
      p.retired = true;
      p.session.close();
    }
  }

  /** Sessions open to `url` (tests, status). */
  sessions(url: string): number {
    return this.byUrl.get(url)?.length ?? 0;
  }

  close(): void {
    this.closed = true;
    for (const url of [...this.byUrl.keys()]) this.forget(url);
  }

  private open(url: string, list: Pooled[]): Pooled {
    const target = new URL(url);
    const session = connect(url, {
      settings: { enablePush: false },
      maxSessionMemory: 64,
      // Small frames must not wait for Nagle's algorithm (40 ms stalls with delayed ACKs).
      createConnection: () => netConnect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port), noDelay: true }),
    });
    const p: Pooled = { session, ready: null as unknown as Promise<ClientHttp2Session>, streams: 0, retired: false };
    const leave = (): void => {
      p.retired = true;
      const cur = this.byUrl.get(url);
      if (!cur) return;
      const i = cur.indexOf(p);
      if (i !== -1) cur.splice(i, 1);
      if (cur.length === 0 && this.byUrl.get(url) === cur) this.byUrl.delete(url);
    };
    p.ready = new Promise<ClientHttp2Session>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy();
        reject(new ForwardError(502, true, 'CONNECT_TIMEOUT', `no HTTP/2 connection to ${url} within ${this.connectTimeoutMs} ms`, true));
      }, this.connectTimeoutMs);
      timer.unref();
      session.once('connect', () => {
        clearTimeout(timer);
        resolve(session);
      });
      session.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        leave();
        const code = err.code ?? 'ERR';
        // Before the connection is up nothing was sent: another replica may take the call, and this one leaves
        // the rotation until a probe says otherwise (a replica just killed may still accept, then reset).
        // Rejecting an already settled promise is a no-op: errors after the connect reach the streams.
        reject(new ForwardError(502, true, code, `HTTP/2 connection to ${url} failed: ${err.message}`, true));
      });
    });
    // Nobody may be waiting on `ready` when a later error settles it.
    p.ready.catch(() => {});
    session.on('goaway', leave);
    session.on('close', leave);
    session.setTimeout(this.idleMs, () => {
      if (p.streams === 0) {
        leave();
        session.close();
      }
    });
    // Pooled sessions do not keep the process alive by themselves.
    session.on('connect', () => session.unref());
    list.push(p);
    return p;
  }
}

export const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = constants;
