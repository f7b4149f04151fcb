import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';

/** Bounds on the data port's client connections (core/config.ts). */
export interface ClientLimits {
  /** headerTimeoutSeconds, in ms: the request head must arrive within this from its first byte. */
  headerTimeoutMs: number;
  /** Connections open at once; more are closed at accept. */
  maxConnections: number;
  /** Connections open at once from one address; 0 = no cap. */
  maxConnectionsPerClient: number;
  /** Largest request head (request line and headers) in bytes: Node's maxHeaderSize; larger gets 431. */
  maxHeaderBytes: number;
}

export interface ClientConnectionDeps {
  limits: ClientLimits;
  metrics: SluiceMetrics;
  logger: Logger;
  clock: Clock;
}

/** Seconds between two warnings about refused connections (each is counted regardless). */
const WARN_EVERY_MS = 10_000;

/**
 * Connection caps: over `maxConnections` (Node's own cap) or `maxConnectionsPerClient` a new connection is closed
 * at accept, before a byte is read, and counted (sluice_gateway_connections_refused_total{reason}); a warning
 * naming the setting is logged at most every 10 s. Closing at accept costs nothing per request and keeps a flood
 * of connections from costing a parser and a response each. The per-address map holds only addresses with a
 * connection open, so it is bounded by maxConnections. Work per connection: a map update and a close listener.
 */
export function capConnections(server: Server, d: ClientConnectionDeps): void {
  const { limits, metrics, logger, clock } = d;
  let lastWarnAt = -Infinity;
  const refused = (reason: 'total' | 'per_client', message: string): void => {
    metrics.connectionsRefusedTotal.inc({ reason });
    const now = clock.now();
    if (now - lastWarnAt < WARN_EVERY_MS) return;
    lastWarnAt = now;
    logger.warn({ reason }, message);
  };
  server.maxConnections = limits.maxConnections;
  server.on('drop', () =>
    refused('total', `client connection closed at accept: ${limits.maxConnections} are open (limit maxConnections=${limits.maxConnections})`),
  );
  const cap = limits.maxConnectionsPerClient;
  if (cap <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (open.get(address) ?? 0) + 1;
    if (n > cap) {
      socket.destroy();
      refused('per_client', `client connection from ${address} closed at accept: ${cap} are open from it (limit maxConnectionsPerClient=${cap})`);
      return;
    }
    open.set(address, n);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/**
 * Answers what Node's HTTP parser refuses before a request reaches the gateway, as the gateway answers anything:
 * JSON naming the limit. A head not received within headerTimeoutSeconds gets 408 (counted in
 * sluice_gateway_client_timeouts_total{kind="headers"}); oversized headers 431; a malformed request 400.
 * The connection is closed after.
 */
export function answerClientErrors(server: Server, d: ClientConnectionDeps): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Node's own rule: answer only when no response on this connection has begun.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    const answer = clientErrorAnswer(err, d);
    if (answer === null || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(answer, () => socket.destroy());
  });
}

/**
 * The answer to a request refused before it reached the gateway (see answerClientErrors), as raw bytes ending
 * with `Connection: close`, or null for a connection reset by the client (nothing to answer). Counts a head
 * timeout in sluice_gateway_client_timeouts_total{kind="headers"}.
 */
export function clientErrorAnswer(err: { code?: string }, d: ClientConnectionDeps): string | null {
  const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  if (timedOut) d.metrics.clientTimeoutsTotal.inc({ kind: 'headers' });
  if (err.code === 'ECONNRESET') return null;
  const headerSeconds = d.limits.headerTimeoutMs / 1000;
  const [status, reason, message] = timedOut
    ? [408, 'Request Timeout', `the request head (request line and headers) was not received within ${headerSeconds} s (headerTimeoutSeconds=${headerSeconds})`]
    : err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', `the request headers are larger than the ${d.limits.maxHeaderBytes} bytes allowed (maxHeaderBytes=${d.limits.maxHeaderBytes})`]
      : [400, 'Bad Request', `malformed HTTP request (${err.code ?? 'parse error'})`];
  const body = JSON.stringify({ error: message });
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
