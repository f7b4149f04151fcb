// A small OIP gRPC runtime for Sluice's tests (started as a replica by the local backend through a
// LocalLaunchRecipe): gRPC on --grpc-port, `GET /v2/health/ready` on --port for the readiness probe.
// ModelInfer doubles its fp32 input. The request id steers it: `sleep:<ms>` answers after <ms>,
// `fail` answers INVALID_ARGUMENT. Events (start, cancelled calls) are appended to $OIP_EVENTS when set.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const httpPort = Number(arg('--port'));
const grpcPort = Number(arg('--grpc-port'));
const modelName = arg('--model-name') ?? 'model';
const replyTag = process.env.REPLY_TAG ?? '';
const events = process.env.OIP_EVENTS;
const record = (line) => {
  if (events) appendFileSync(events, `${line}\n`);
};

const def = loader.loadSync(join(dirname(fileURLToPath(import.meta.url)), 'oip.proto'), { keepCase: true, longs: Number, defaults: true });
const proto = grpc.loadPackageDefinition(def).inference;

function infer(req) {
  const outputs = req.inputs.map((t) => ({
    name: `${t.name}_doubled`,
    datatype: 'FP32',
    shape: t.shape,
    contents: { fp32_contents: (t.contents?.fp32_contents ?? []).map((v) => v * 2) },
  }));
  return { model_name: modelName, model_version: replyTag, id: req.id, outputs };
}

const server = new grpc.Server();
server.addService(proto.GRPCInferenceService.service, {
  ServerLive: (_c, cb) => cb(null, { live: true }),
  ServerReady: (_c, cb) => cb(null, { ready: true }),
  ServerMetadata: (_c, cb) => cb(null, { name: 'oip-test', version: '1', extensions: [] }),
  ModelReady: (c, cb) => cb(null, { ready: c.request.name === modelName }),
  ModelMetadata: (c, cb) => {
    if (c.request.name !== modelName) return cb({ code: grpc.status.NOT_FOUND, details: `no model ${c.request.name}` });
    cb(null, {
      name: modelName,
      versions: [replyTag || '1'],
      platform: `oip-test pid ${process.pid}`,
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }],
      outputs: [{ name: 'x_doubled', datatype: 'FP32', shape: [-1] }],
    });
  },
  ModelInfer: (call, cb) => {
    const req = call.request;
    const md = new grpc.Metadata();
    md.set('x-replica-tag', replyTag);
    const echo = call.metadata.get('x-echo');
    if (echo.length > 0) md.set('x-echo', String(echo[0]));
    call.sendMetadata(md);
    const trailers = new grpc.Metadata();
    trailers.set('x-served-by', String(process.pid));
    if (req.id === 'fail') return cb({ code: grpc.status.INVALID_ARGUMENT, details: 'asked to fail' }, null, trailers);
    const m = /^sleep:(\d+)$/.exec(req.id);
    if (!m) return cb(null, infer(req), trailers);
    const t = setTimeout(() => cb(null, infer(req), trailers), Number(m[1]));
    call.on('cancelled', () => {
      clearTimeout(t);
      record(`cancelled ${req.id}`);
    });
  },
  ModelStreamInfer: (call) => {
    const md = new grpc.Metadata();
    const echo = call.metadata.get('x-echo');
    if (echo.length > 0) md.set('x-echo', String(echo[0]));
    call.sendMetadata(md);
    let n = 0;
    call.on('data', (req) => {
      n++;
      call.write({ error_message: '', infer_response: infer(req) });
    });
    call.on('end', () => {
      const trailers = new grpc.Metadata();
      trailers.set('x-stream-count', String(n));
      call.end(trailers);
    });
    call.on('cancelled', () => record('cancelled stream'));
  },
});

const bind = () => server.bindAsync(`127.0.0.1:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(`cannot bind gRPC port ${grpcPort}: ${err.message}`);
    process.exit(1);
  }
  createServer((req, res) => {
    res.writeHead(req.url === '/v2/health/ready' ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
  }).listen(httpPort, '127.0.0.1', () => record(`started ${process.pid}`));
});
// A slow start (START_DELAY_MS) lets tests hold calls past their deadline.
setTimeout(bind, Number(process.env.START_DELAY_MS ?? 0));
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
