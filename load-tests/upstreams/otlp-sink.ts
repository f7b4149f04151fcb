import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What an OTLP sink took: export requests and their body bytes. */
export interface OtlpSinkStats {
  exports: number;
  bytes: number;
}

/**
 * A collector stand-in for the tracing scenario: accepts `POST /v1/traces` (OTLP/HTTP protobuf), reads the body,
 * answers 200 with an empty ExportTraceServiceResponse, and counts. Runs in the benchmark's own process: at a 5 %
 * sample it takes a few export requests a second.
 */
export async function startOtlpSink(): Promise<{ url: string; stats(): OtlpSinkStats; stop(): Promise<void> }> {
  const stats: OtlpSinkStats = { exports: 0, bytes: 0 };
  const server: Server = createServer((req, res) => {
    req.on('data', (c: Buffer) => void (stats.bytes += c.length));
    req.on('end', () => {
      stats.exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    stats: () => ({ ...stats }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
