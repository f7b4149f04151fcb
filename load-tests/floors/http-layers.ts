/**
 * Sluice's HTTP layers with nothing of the gateway: the data port's own connection handler (shared reads, the
 * JavaScript fast path, llhttp, DataRequest, DataResponse), the hop-by-hop filters and the upstream client, a
 * 90/10 pick per request. No routing, stages, activator, accounting or metrics. What it costs per request over
 * node-pipe is the HTTP layers', and what Sluice costs over it is the gateway's (load-tests/floor-ladder.sh).
 * Bodies must come whole with their head (the load tests' small POSTs do); anything else gets a 400.
 *   node http-layers.js --upstream URL --upstream URL      (prints `LISTENING <port>`)
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SystemClock } from '../../core/clock.js';
import { writeError } from '../../core/errors.js';
import { serveHttp1, takeWholeBody } from '../../gateway/http1/data-connection.js';
import type { DataResponse } from '../../gateway/http1/data-response.js';
import { upstreamRequestHeaders } from '../../gateway/forward-headers.js';
import { UpstreamClient, UpstreamRequest, type ResponseHead } from '../../gateway/upstream-client.js';
import { splitter, upstreamArgs } from './args.js';

class Call extends UpstreamRequest {
  constructor(
    method: string,
    path: string,
    private readonly res: DataResponse,
  ) {
    super(method, path, 30_000);
  }
  onHead(status: number, head: ResponseHead): void {
    this.res.writeHeadLines(status, head.passOn(), head.hasDate, head.hasLength);
  }
  onData(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }
  onEnd(): void {
    this.res.end();
  }
  onError(): void {
    this.res.destroy();
  }
}

const next = splitter(...upstreamArgs(process.argv.slice(2)));
const client = new UpstreamClient({ connections: 64, keepAliveTimeoutMs: 60_000 });
const server = createServer();
const own = serveHttp1(server, {
  clock: new SystemClock(),
  headerTimeoutMs: 10_000,
  maxHeaderBytes: 16_384,
  keepAliveMs: 5_000,
  checkEveryMs: 1_000,
  onRequest(req, res) {
    const method = req.method ?? 'GET';
    const body = takeWholeBody(req, Number(req.headers['content-length'] ?? 0));
    if (body === null && method !== 'GET' && method !== 'HEAD') {
      writeError(res as unknown as ServerResponse, 400, 'this floor proxy takes only bodies that come whole with their head');
      return;
    }
    client.send(next(), new Call(method, req.url ?? '/', res), upstreamRequestHeaders(req, null), body, req.headers);
  },
  clientError: () => null,
});
if (!own) throw new Error('this Node has no HTTP parser binding Sluice knows');
server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${(server.address() as AddressInfo).port}`));
// A signal ends it through process.exit, so that --cpu-prof and the like write their files.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(0));
