/**
 * A CloudEvents sink for the logging scenario, as its own process (so it does not share the load generator's
 * event loop). `--mode healthy` answers 202 at once (as a Knative broker does); `hung` accepts connections and
 * requests and never answers; `slow` answers each event after `--delay-ms` (2000 by default). Prints
 * `LISTENING <port>`. Usage: node log-sink.js --mode healthy|hung|slow [--delay-ms N]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'healthy' }, 'delay-ms': { type: 'string', default: '2000' } } });
const mode = values.mode;
if (mode !== 'healthy' && mode !== 'hung' && mode !== 'slow') throw new Error(`--mode must be healthy, hung or slow, got ${mode}`);
const delayMs = Number(values['delay-ms']);

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (mode === 'healthy') res.writeHead(202).end();
    else if (mode === 'slow') setTimeout(() => res.writeHead(202).end(), delayMs);
    // hung: never answers
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${(server.address() as AddressInfo).port}\n`));
const stop = (): void => process.exit(0);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
