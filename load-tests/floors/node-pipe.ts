/**
 * The floor under any Node proxy: bytes copied both ways between a client connection and one upstream
 * connection of its own (chosen 90/10 per connection), with no HTTP at all. What it costs per request is what
 * Node's sockets, libuv and the kernel cost for one read and one write each way (load-tests/floor-ladder.sh).
 *   node node-pipe.js --upstream URL --upstream URL      (prints `LISTENING <port>`)
 */
import { connect, createServer, type AddressInfo } from 'node:net';
import { splitter, upstreamArgs } from './args.js';

const next = splitter(...upstreamArgs(process.argv.slice(2)));
const server = createServer((client) => {
  const u = new URL(next());
  const up = connect(Number(u.port), u.hostname);
  client.setNoDelay(true);
  up.setNoDelay(true);
  client.on('data', (d) => up.write(d));
  up.on('data', (d) => client.write(d));
  client.on('close', () => up.destroy());
  up.on('close', () => client.destroy());
  client.on('error', () => undefined);
  up.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${(server.address() as AddressInfo).port}`));
// A signal ends it through process.exit, so that --cpu-prof and the like write their files.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(0));
