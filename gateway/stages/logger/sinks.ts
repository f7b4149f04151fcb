/**
 * Where log events go: an HTTP endpoint (CloudEvents binary mode over a keep-alive pool, any 2xx is success) or
 * a local JSON-lines file (embedded mode; rotated to `<file>.1` when it would pass its size bound).
 */
import { mkdirSync } from 'node:fs';
import { open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, type Dispatcher } from 'undici';
import { binaryHeaders, jsonLine, payloadOf, type LogEvent } from './event.js';

/** One delivery attempt's result: delivered, or why not and whether another attempt may succeed. */
export type SendResult = { ok: true } | { ok: false; retryable: boolean; reason: string };

export interface Sink {
  /** Deliveries at once (an HTTP sink's pool size; a file takes one at a time, in order). */
  readonly concurrency: number;
  send(ev: LogEvent, signal: AbortSignal): Promise<SendResult>;
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Keep-alive connections (and deliveries at once) per HTTP sink. */
  connections: number;
  /** undici's own header/body timeouts: a backstop behind the delivery's per-attempt timeout. */
  backstopTimeoutMs: number;
  /** Largest a JSON-lines file grows before it is rotated. */
  fileMaxBytes: number;
}

export function createSink(url: string, o: SinkOptions): Sink {
  return url.startsWith('file:') ? new FileSink(fileURLToPath(url), o.fileMaxBytes) : new HttpSink(url, o);
}

/** HTTP statuses worth another attempt: the sink is busy or failed for now. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class HttpSink implements Sink {
  readonly concurrency: number;
  private readonly pool: Pool;
  private readonly path: string;

  constructor(url: string, o: SinkOptions) {
    const u = new URL(url);
    this.concurrency = o.connections;
    this.path = `${u.pathname}${u.search}`;
    this.pool = new Pool(u.origin, {
      connections: o.connections,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      connectTimeout: o.backstopTimeoutMs,
      headersTimeout: o.backstopTimeoutMs,
      bodyTimeout: o.backstopTimeoutMs,
    });
  }

  /** One POST through undici's `dispatch` with a handler that only reads the status (cheaper than `request`). */
  send(ev: LogEvent, signal: AbortSignal): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      let status = 0;
      let controller: Dispatcher.DispatchController | null = null;
      const onAbort = (): void => controller?.abort(new Error('log delivery attempt timed out'));
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (r: SendResult): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      try {
        this.pool.dispatch(
          { path: this.path, method: 'POST', headers: binaryHeaders(ev), body: ev.size > 0 ? payloadOf(ev) : null },
          {
            onRequestStart(c) {
              controller = c;
              if (signal.aborted) c.abort(new Error('log delivery attempt timed out'));
            },
            onResponseStart(_c, statusCode) {
              status = statusCode;
            },
            onResponseData() {
              // The sink's answer body is not needed.
            },
            onResponseEnd() {
              if (status >= 200 && status < 300) settle({ ok: true });
              else settle({ ok: false, retryable: retryableStatus(status), reason: `the sink answered ${status}` });
            },
            onResponseError(_c, err) {
              settle({ ok: false, retryable: true, reason: errorCode(err) });
            },
          },
        );
      } catch (err) {
        settle({ ok: false, retryable: true, reason: errorCode(err) });
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.destroy().catch(() => undefined);
  }
}

/**
 * Appends each event as one line of CloudEvents JSON. When a line would take the file past `maxBytes`, the file is
 * renamed to `<file>.1` (replacing an older one) and a new file begins: at most twice `maxBytes` on disk.
 */
export class FileSink implements Sink {
  readonly concurrency = 1;
  private fh: FileHandle | null = null;
  private size = 0;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
  ) {}

  async send(ev: LogEvent): Promise<SendResult> {
    try {
      const line = Buffer.from(jsonLine(ev));
      if (this.fh === null) await this.openFile();
      if (this.size > 0 && this.size + line.length > this.maxBytes) {
        await this.fh!.close();
        this.fh = null;
        await rename(this.path, `${this.path}.1`);
        await this.openFile();
      }
      await this.fh!.write(line);
      this.size += line.length;
      return { ok: true };
    } catch (err) {
      // The handle may be broken (a disk error, the file removed): open again on the next attempt.
      await this.fh?.close().catch(() => undefined);
      this.fh = null;
      return { ok: false, retryable: true, reason: errorCode(err) };
    }
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
  }

  private async openFile(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    this.fh = await open(this.path, 'a', 0o600);
    this.size = (await stat(this.path)).size;
  }
}

function errorCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
    if (typeof e.cause?.code === 'string') return e.cause.code;
    if (typeof e.code === 'string') return e.code;
    if (typeof e.name === 'string') return e.name;
  }
  return 'UNKNOWN';
}
