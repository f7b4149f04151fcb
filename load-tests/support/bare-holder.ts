/**
 * Baseline for held-request memory: a bare node:http server that holds every request without reading its
 * body or answering (what any Node proxy pays per waiting connection before doing anything of its own).
 * Prints `{"port": N}` once listening. Usage: node dist/load-tests/support/bare-holder.js
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const held = new Set<http.IncomingMessage>();
const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
  held.add(req);
  res.once('close', () => held.delete(req));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
