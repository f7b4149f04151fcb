import type { Server } from 'node:http';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';

/** Read as a response begins: while draining, it is the last on its connection (`Connection: close`). */
export interface DrainState {
  readonly draining: boolean;
}

/** What the drain needs from the gateway. */
export interface Drainable {
  /** From now on every response closes its connection. */
  beginDrain(): void;
  /** Requests in the gateway (held or forwarded). */
  readonly activeRequests: number;
  /** Answers every held request 503 (the grace is over); returns how many there were. */
  refuseHeld(message: string): number;
}

export interface DrainOptions {
  server: Server;
  gateway: Drainable;
  graceMs: number;
  clock: Clock;
  logger: Logger;
  metrics: SluiceMetrics;
  /** How often the in-flight count is looked at. Default 50 ms. */
  pollMs?: number;
}

/**
 * Stops the data port gracefully (SIGTERM): no new connections; every response from now on, in flight or to a
 * new request on an open keep-alive connection, carries `Connection: close` and closes its connection; idle
 * keep-alive connections are closed at once; in-flight requests get `graceMs` to finish. At the deadline, requests still held are answered 503 and forwarded ones are cut; both are logged and
 * counted (sluice_gateway_shutdown_cut_requests_total{stage}). Resolves when the port is quiet.
 */
function openConnections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n)));
}

export async function drainGateway(o: DrainOptions): Promise<{ held: number; cut: number }> {
  const { server, gateway, clock } = o;
  const pollMs = o.pollMs ?? 50;
  const until = clock.now() + o.graceMs;
  gateway.beginDrain();
  server.close();
  server.closeIdleConnections();
  if (gateway.activeRequests > 0) o.logger.info({ inFlight: gateway.activeRequests, graceMs: o.graceMs }, 'draining: letting in-flight requests finish');
  // Wait for the requests in flight, and for the connections: one may be half-way through sending a request that
  // is not counted yet (it gets its answer, with Connection: close). A response sent while draining closes its
  // connection; a connection that is idle (no request on it) is closed at each look, every pollMs, so a client
  // that keeps an unused connection open does not hold the drain to its deadline. A client that starts a request
  // on an idle connection just as it is closed sees it closed, as it would at any server's shutdown; its next
  // connection goes to another gateway (the listener is already closed).
  while ((gateway.activeRequests > 0 || (await openConnections(server)) > 0) && clock.now() < until) {
    await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(pollMs, Math.max(1, until - clock.now()))));
    server.closeIdleConnections();
  }
  let held = 0;
  let cut = 0;
  if (gateway.activeRequests > 0) {
    const graceSeconds = o.graceMs / 1000;
    held = gateway.refuseHeld(`Sluice is shutting down: no replica took the request within the shutdown grace (shutdownGraceSeconds=${graceSeconds})`);
    // Let the 503s be written before the connections go.
    await new Promise<void>((resolve) => setImmediate(resolve));
    cut = gateway.activeRequests; // the refused ones have finished by now
    if (held > 0) o.metrics.shutdownCutTotal.inc({ stage: 'held' }, held);
    if (cut > 0) o.metrics.shutdownCutTotal.inc({ stage: 'forwarded' }, cut);
    o.logger.warn(
      { heldRefused: held, forwardedCut: cut, shutdownGraceSeconds: graceSeconds },
      `shutdown grace over: ${held} held request(s) answered 503, ${cut} forwarded request(s) cut`,
    );
  }
  server.closeAllConnections();
  return { held, cut };
}
