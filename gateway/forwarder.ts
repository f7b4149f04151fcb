import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { Pool } from 'undici';

/** Headers that belong to one hop and are never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/** Errors that prove the request never reached the replica (no connection was made), so it may go to another one. */
const NOT_REACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
/**
 * Errors of a connection that broke. They prove nothing about the request by themselves; it counts as never
 * reached only when it has a body and not one byte of that body was taken from the client (a runtime cannot
 * act on a request whose body it never got).
 */
const CONNECTION_BROKE = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export class ForwardError extends Error {
  /** HTTP status for the client: 502 (replica failed) or 504 (replica too slow). */
  readonly status: number;
  /** The request never reached the replica and its body is untouched: safe to try another replica. */
  readonly retryable: boolean;
  readonly code: string;

  constructor(status: number, retryable: boolean, code: string, message: string) {
    super(message);
    this.status = status;
    this.retryable = retryable;
    this.code = code;
  }
}

export interface ForwardOptions {
  /** Path and query sent upstream. */
  path: string;
  /** Max time to wait for the replica's response headers, and between body chunks. */
  timeoutMs: number;
  signal: AbortSignal;
  /** Extra response headers (e.g. the cold-start header), decided when the response begins. */
  responseHeaders?: () => Record<string, string> | null;
}

export interface ForwarderOptions {
  /** Keep-alive connections per replica. */
  connectionsPerReplica?: number;
  keepAliveTimeoutMs?: number;
}

/**
 * The one forwarder, shared by the gateway and the activator: a keep-alive undici Pool per replica, request and
 * response bodies streamed in both directions, never buffered.
 */
export class Forwarder {
  private readonly pools = new Map<string, Pool>();
  private readonly opts: Required<ForwarderOptions>;

  constructor(opts: ForwarderOptions = {}) {
    this.opts = {
      connectionsPerReplica: opts.connectionsPerReplica ?? 256,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 4_000,
    };
  }

  /** Drops the pool of a replica that is gone. */
  forget(url: string): void {
    const p = this.pools.get(url);
    if (!p) return;
    this.pools.delete(url);
    void p.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }

  /**
   * Sends `req` to the replica at `baseUrl` and streams the answer into `res`. Resolves with the status sent
   * once the response has been fully written; rejects with ForwardError when nothing was sent to the client.
   */
  async forward(baseUrl: string, req: IncomingMessage, res: ServerResponse, o: ForwardOptions): Promise<number> {
    const pool = this.pool(baseUrl);
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD' && (req.headers['content-length'] !== undefined
      ? req.headers['content-length'] !== '0'
      : req.headers['transfer-encoding'] !== undefined);
    let status = 0;
    // The body is handed over lazily: nothing is taken from the client until undici has a connection and asks
    // for the first chunk, so a request that failed before that still has its whole body for another replica.
    const body = hasBody ? new LazyBody(req) : null;
    try {
      await pool.stream(
        {
          path: o.path,
          method: method as 'GET',
          headers: requestHeaders(req.headers),
          body: body ? Readable.from(body.iterable(), { objectMode: false }) : null,
          headersTimeout: o.timeoutMs,
          bodyTimeout: o.timeoutMs,
          signal: o.signal,
        },
        ({ statusCode, headers }) => {
          status = statusCode;
          const extra = o.responseHeaders?.();
          res.writeHead(statusCode, responseHeaders(headers, extra));
          return res;
        },
      );
      return status;
    } catch (err) {
      if (status !== 0) {
        // The response had begun: all we can do is cut it.
        res.destroy();
        throw new ForwardError(502, false, errCode(err), `replica failed while sending the response: ${errText(err)}`);
      }
      const code = errCode(err);
      if (code === 'UND_ERR_HEADERS_TIMEOUT')
        throw new ForwardError(504, false, code, `the replica did not answer within ${o.timeoutMs} ms`);
      if (code === 'UND_ERR_ABORTED' || o.signal.aborted)
        throw new ForwardError(499, false, code, 'client closed the request');
      const untouched = !(body?.started ?? false) && !req.readableDidRead && !req.destroyed;
      if (NOT_REACHED.has(code))
        throw new ForwardError(502, untouched, code, `could not reach the replica: ${errText(err)}`);
      if (CONNECTION_BROKE.has(code) && untouched && hasBody)
        throw new ForwardError(502, true, code, `the connection to the replica broke before the request was sent: ${errText(err)}`);
      throw new ForwardError(
        502,
        false,
        code,
        `the replica failed while handling the request (${code}); it was not retried because it may have been processed`,
      );
    }
  }

  private pool(baseUrl: string): Pool {
    let p = this.pools.get(baseUrl);
    if (!p) {
      p = new Pool(baseUrl, {
        connections: this.opts.connectionsPerReplica,
        pipelining: 1,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs,
        keepAliveMaxTimeout: this.opts.keepAliveTimeoutMs,
      });
      this.pools.set(baseUrl, p);
    }
    return p;
  }
}

/** A request body that starts reading the client's stream only when first asked for a chunk. */
class LazyBody {
  started = false;
  constructor(private readonly req: IncomingMessage) {}

  iterable(): AsyncIterable<Buffer> {
    const self = this;
    return {
      [Symbol.asyncIterator](): AsyncIterator<Buffer> {
        let inner: AsyncIterator<Buffer> | null = null;
        const open = (): AsyncIterator<Buffer> => {
          self.started = true;
          inner ??= (self.req as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
          return inner;
        };
        return {
          next: () => open().next(),
          // Undici closing the body before it read anything must leave the client's stream untouched.
          return: async (v?: unknown) => {
            if (inner?.return) await inner.return(v);
            return { done: true, value: undefined };
          },
        };
      },
    };
  }
}

function requestHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    if (HOP_BY_HOP.has(k)) continue;
    const v = h[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function responseHeaders(
  h: Record<string, string | string[] | undefined>,
  extra: Record<string, string> | null | undefined,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    if (HOP_BY_HOP.has(k)) continue;
    const v = h[k];
    if (v !== undefined) out[k] = v;
  }
  if (extra) Object.assign(out, extra);
  return out;
}

function errCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; cause?: { code?: unknown } };
    if (typeof e.code === 'string') {
      if (e.code === 'UND_ERR_SOCKET' && typeof e.cause?.code === 'string') return e.cause.code;
      return e.code;
    }
    if (typeof e.cause?.code === 'string') return e.cause.code;
  }
  return 'UNKNOWN';
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
