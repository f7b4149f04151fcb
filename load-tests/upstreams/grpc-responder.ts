/**
 * A fast gRPC upstream for load tests: any call gets one fixed OIP `ModelInferResponse` message and
 * `grpc-status: 0` trailers, over raw `node:http2` (no protobuf decoding), so the proxy in front of it is what
 * a run measures. `GET /v2/health/ready` on --port answers the local backend's readiness probe.
 *
 *   node dist/load-tests/upstreams/grpc-responder.js --port <http> --grpc-port <grpc>
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:http2';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};

/** `ModelInferResponse { model_name: "m", id: "" , outputs: [{name: "y", datatype: "FP32", shape: [1]}] }` framed. */
const MESSAGE = Buffer.from([0x0a, 0x01, 0x6d, 0x2a, 0x0b, 0x0a, 0x01, 0x79, 0x12, 0x04, 0x46, 0x50, 0x33, 0x32, 0x1a, 0x01, 0x01]);
const FRAME = Buffer.concat([Buffer.from([0, 0, 0, 0, MESSAGE.length]), MESSAGE]);

const h2 = createServer({ settings: { maxConcurrentStreams: 1000 } });
h2.prependListener('connection', (socket: import('node:net').Socket) => socket.setNoDelay(true));
h2.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.resume();
  stream.on('end', () => {
    if (stream.destroyed) return;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(FRAME);
  });
});
h2.listen(Number(arg('--grpc-port')), '127.0.0.1', () => {
  createHttpServer((req, res) => res.writeHead(req.url === '/v2/health/ready' ? 200 : 404).end()).listen(Number(arg('--port') ?? 0), '127.0.0.1');
});
