import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { FORWARDERS } from './catalogue.js';
import type { ForwarderOptions } from './forwarder.js';

export interface RunningForwarder {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Serves one forwarder on loopback, with client keep-alive like the baselines (65 s). */
export async function startForwarder(name: string, options: ForwarderOptions, port = 0): Promise<RunningForwarder> {
  const factory = FORWARDERS[name];
  if (!factory) throw new Error(`unknown forwarder ${name}; known: ${Object.keys(FORWARDERS).join(', ')}`);
  const forwarder = factory(options);
  const server = createServer((req, res) => forwarder.handle(req, res));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await forwarder.close();
    },
  };
}

/**
 * As a child process:
 * `node server.js <forwarder> --upstream URL --upstream URL [--weights 9,1] [--timeout-ms N] [--port N]`
 * prints `LISTENING <port>` when ready.
 */
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      upstream: { type: 'string', multiple: true },
      weights: { type: 'string', default: '9,1' },
      'timeout-ms': { type: 'string', default: '30000' },
      connections: { type: 'string', default: '128' },
      port: { type: 'string', default: '0' },
    },
  });
  const running = await startForwarder(
    positionals[0] ?? '',
    {
      upstreams: values.upstream ?? [],
      weights: values.weights.split(',').map(Number),
      timeoutMs: Number(values['timeout-ms']),
      connectionsPerUpstream: Number(values.connections),
    },
    Number(values.port),
  );
  process.stdout.write(`LISTENING ${running.port}\n`);
  const shutdown = (): void => void running.stop().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // the harness holds our stdin open; when it goes away, so do we
  process.stdin.on('end', shutdown);
  process.stdin.resume();
}
