import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/**
 * The minimal upstream of every benchmark: answers any request with a tiny fixed JSON body after reading the
 * request body. Two query knobs serve the behaviour checks:
 *   `?delay_ms=N` answers after N ms (a slow model), `?reset=1` destroys the socket without answering.
 * `GET /__stats` answers this instance's counters (never counted itself).
 */
export interface ResponderStats {
  name: string;
  requests: number;
  /** delayed requests whose connection closed before this instance answered (the proxy propagated an abort) */
  cancelled: number;
  /** delayed requests this instance answered in full (work done, whoever still listened) */
  delayedAnswered: number;
  openConnections: number;
}

export interface RunningResponder {
  url: string;
  port: number;
  stats(): ResponderStats;
  stop(): Promise<void>;
}

const BODY = Buffer.from('{"predictions":[[0.1,0.9]],"model":"bench"}');

export async function startJsonResponder(name: string, port = 0): Promise<RunningResponder> {
  const counters = { requests: 0, cancelled: 0, delayedAnswered: 0 };
  let openConnections = 0;
  const stats = (): ResponderStats => ({ name, ...counters, openConnections });
  const server: Server = createServer((req, res) => handle(req, res, counters, stats));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('connection', (socket) => {
    openConnections += 1;
    socket.once('close', () => {
      openConnections -= 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  counters: { requests: number; cancelled: number; delayedAnswered: number },
  stats: () => ResponderStats,
): void {
  const url = req.url ?? '/';
  if (url === '/__stats') {
    const body = JSON.stringify(stats());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  counters.requests += 1;
  const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : undefined;
  req.resume();
  req.once('end', () => {
    if (query?.get('reset') === '1') {
      req.socket.destroy();
      return;
    }
    const delay = Number(query?.get('delay_ms') ?? 0);
    if (delay > 0) {
      const timer = setTimeout(() => {
        counters.delayedAnswered += 1;
        answer(res);
      }, delay);
      res.once('close', () => {
        if (!res.writableEnded) {
          clearTimeout(timer);
          counters.cancelled += 1;
        }
      });
      return;
    }
    answer(res);
  });
}

function answer(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
}

/** As a child process: `node json-responder.js <name> [port]` prints `LISTENING <port>` when ready. */
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const responder = await startJsonResponder(process.argv[2] ?? 'upstream', Number(process.argv[3] ?? 0));
  process.stdout.write(`LISTENING ${responder.port}\n`);
  const shutdown = (): void => void responder.stop().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // the harness holds our stdin open; when it goes away, so do we
  process.stdin.on('end', shutdown);
  process.stdin.resume();
}
