/**
 * The demo model server: KServe v1 and v2 (Open Inference Protocol) REST over node:http, serving a linear
 * classifier (iris by default), with the binary tensor data extension (binary-tensors.ts), with knobs for start-up delay, latency, worker slots and injected errors.
 * Usable in-process (tests) or through main.ts (a replica started by the local backend).
 * `GET /demo/stats` returns DemoStats (in-flight, queued, predictions, injected errors) for tests and load tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { writeError, errorMessage } from '../../core/errors.js';
import { loadLinearClassifier, predictClass, type LinearClassifier } from './iris-model.js';
import { BadPayload, parseJsonBody, parseV1Instances, parseV2Infer } from './inference-payloads.js';
import { WorkerSlots } from './worker-slots.js';
import { binaryAnswer, decodeInferBody, HEADER_LENGTH, wantsBinary } from './binary-tensors.js';
import type { DemoOptions } from './demo-options.js';

export type { DemoOptions } from './demo-options.js';

export interface DemoStats {
  /** Predictions holding a worker slot right now. */
  inFlight: number;
  /** Predictions waiting for a slot. */
  queued: number;
  /** Predict/infer requests admitted (the error-rate counter). */
  predictions: number;
  /** Of those, answered 500 by the error-rate knob. */
  injectedErrors: number;
  /** HTTP requests of any kind being handled. */
  requests: number;
  /** Predict/infer requests at once (running or waiting for a slot): now, and the most there ever were. */
  concurrent: number;
  maxConcurrent: number;
}

export interface DemoServer {
  server: http.Server;
  /** Resolves when the model is loaded and the start-up delay has passed; rejects if the model cannot load. */
  whenReady: Promise<void>;
  isReady(): boolean;
  /** Listens (port 0 = any free port) and resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight (and queued) requests finish, then closes; forces after timeoutMs. */
  shutdown(timeoutMs?: number): Promise<void>;
  stats(): DemoStats;
}

const SERVER_NAME = 'sluice-demo';
const SERVER_VERSION = '0.1.0';

class PayloadTooLarge extends Error {}

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        reject(new PayloadTooLarge(`request body over ${maxBytes} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function writeJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

type Route =
  | { kind: 'root' }
  | { kind: 'stats' }
  | { kind: 'v1-list' }
  | { kind: 'v1-model'; model: string }
  | { kind: 'v1-predict'; model: string }
  | { kind: 'v2-live' }
  | { kind: 'v2-ready' }
  | { kind: 'v2-server' }
  | { kind: 'v2-model'; model: string }
  | { kind: 'v2-model-ready'; model: string }
  | { kind: 'v2-infer'; model: string };

const GET_ROUTES = new Set<Route['kind']>(['root', 'stats', 'v1-list', 'v1-model', 'v2-live', 'v2-ready', 'v2-server', 'v2-model', 'v2-model-ready']);

function matchRoute(path: string): Route | null {
  if (path === '/') return { kind: 'root' };
  if (path === '/demo/stats') return { kind: 'stats' };
  if (path === '/v1/models') return { kind: 'v1-list' };
  if (path === '/v2/health/live') return { kind: 'v2-live' };
  if (path === '/v2/health/ready') return { kind: 'v2-ready' };
  if (path === '/v2' || path === '/v2/') return { kind: 'v2-server' };
  let m = /^\/v1\/models\/([^/:]+):predict$/.exec(path);
  if (m) return { kind: 'v1-predict', model: decodeURIComponent(m[1]!) };
  m = /^\/v1\/models\/([^/:]+)$/.exec(path);
  if (m) return { kind: 'v1-model', model: decodeURIComponent(m[1]!) };
  m = /^\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?(\/ready|\/infer)?$/.exec(path);
  if (m) {
    const model = decodeURIComponent(m[1]!);
    if (m[2] === '/ready') return { kind: 'v2-model-ready', model };
    if (m[2] === '/infer') return { kind: 'v2-infer', model };
    return { kind: 'v2-model', model };
  }
  return null;
}

export function createDemoServer(opts: DemoOptions): DemoServer {
  const modelName = opts.modelName;
  const label = opts.label ?? '';
  const modelVersion = label || '1';
  const replicaId = opts.replicaId ?? String(process.pid);
  const latencyMs = opts.latencyMs ?? 0;
  const jitterMs = opts.latencyJitterMs ?? 0;
  const perRowMs = opts.latencyPerRowMs ?? 0;
  const errorRate = Math.min(1, Math.max(0, opts.errorRate ?? 0));
  const maxBodyBytes = opts.maxBodyBytes ?? 1 << 20;
  const slots = new WorkerSlots(opts.maxConcurrency ?? 0, opts.maxQueue ?? 1000, opts.rejectOverCapacity ?? false);

  let model: LinearClassifier | null = null;
  let ready = false;
  let closing = false;
  let predictions = 0;
  let injectedErrors = 0;
  let active = 0;

  const whenReady = (async () => {
    const [loaded] = await Promise.all([loadLinearClassifier(opts.modelDir), sleep(opts.startupDelayMs ?? 0)]);
    model = loaded;
    ready = true;
  })();
  whenReady.catch(() => undefined); // observed by callers; never an unhandled rejection here

  let concurrent = 0;
  let maxConcurrent = 0;
  const stats = (): DemoStats => ({ inFlight: slots.inFlight, queued: slots.queued, predictions, injectedErrors, requests: active, concurrent, maxConcurrent });

  const width = (): number => model?.features.length ?? 4;

  /** Deterministic error injection: request n fails when floor(n·rate) steps up, so exactly floor(N·rate) of N fail. */
  function nextFails(): number | null {
    const n = ++predictions;
    return Math.floor(n * errorRate) > Math.floor((n - 1) * errorRate) ? n : null;
  }

  function notFound(res: http.ServerResponse, name: string): void {
    writeError(res, 404, `Model with name ${name} does not exist.`);
  }

  function notReady(res: http.ServerResponse): void {
    writeError(res, 503, `Model with name ${modelName} is not ready.`);
  }

  function v2Metadata(): unknown {
    return {
      name: modelName,
      versions: [modelVersion],
      platform: SERVER_NAME,
      inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, width()] }],
      outputs: [{ name: 'output-0', datatype: 'INT64', shape: [-1] }],
    };
  }

  /** Waits for a worker slot, holds it for the latency, then predicts (or injects an error). */
  async function runPrediction(res: http.ServerResponse, rows: number[][], answer: (classes: number[]) => unknown, binary = false): Promise<void> {
    const fails = nextFails();
    // Counted from arrival to answer: a gateway that keeps containerConcurrency never makes this exceed it.
    concurrent++;
    if (concurrent > maxConcurrent) maxConcurrent = concurrent;
    const admission = await slots.acquire().catch((err: unknown) => {
      concurrent--;
      throw err;
    });
    if (!admission.ok) {
      concurrent--;
      writeError(res, 503, admission.reason);
      return;
    }
    try {
      await sleep(latencyMs + perRowMs * rows.length + (jitterMs > 0 ? Math.random() * jitterMs : 0));
      if (fails !== null) {
        injectedErrors++;
        writeError(res, 500, `injected error (SLUICE_DEMO_ERROR_RATE=${errorRate}, prediction ${fails})`);
        return;
      }
      const m = model!;
      const out = answer(rows.map((r) => predictClass(m, r)));
      if (!binary) return writeJson(res, 200, out);
      const { body, headerLength } = binaryAnswer(out as Parameters<typeof binaryAnswer>[0]);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'inference-header-content-length': headerLength });
      res.end(body);
    } finally {
      concurrent--;
      admission.release();
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = matchRoute(path);
    if (!route) {
      writeError(res, 404, `Not found: ${path}`);
      return;
    }
    const wantGet = GET_ROUTES.has(route.kind);
    const method = req.method ?? 'GET';
    if (wantGet ? method !== 'GET' && method !== 'HEAD' : method !== 'POST') {
      writeError(res, 405, `Method ${method} not allowed on ${path}`, { allow: wantGet ? 'GET, HEAD' : 'POST' });
      return;
    }
    switch (route.kind) {
      case 'root':
        return writeJson(res, 200, { status: 'alive' });
      case 'stats':
        return writeJson(res, 200, stats());
      case 'v2-live':
        return writeJson(res, 200, { live: true });
      case 'v2-ready':
        return ready ? writeJson(res, 200, { ready: true }) : notReady(res);
      case 'v2-server':
        return writeJson(res, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['binary_tensor_data'] });
      case 'v1-list':
        return writeJson(res, 200, { models: [modelName] });
      case 'v1-model':
        if (route.model !== modelName) return notFound(res, route.model);
        return ready ? writeJson(res, 200, { name: modelName, ready: true }) : notReady(res);
      case 'v2-model':
        if (route.model !== modelName) return notFound(res, route.model);
        return writeJson(res, 200, v2Metadata());
      case 'v2-model-ready':
        if (route.model !== modelName) return notFound(res, route.model);
        return ready ? writeJson(res, 200, { name: modelName, ready: true }) : notReady(res);
      case 'v1-predict':
      case 'v2-infer': {
        if (route.model !== modelName) return notFound(res, route.model);
        const raw = await readBody(req, maxBodyBytes);
        if (route.kind === 'v1-predict') {
          const body = parseJsonBody(raw.toString('utf8'));
          const rows = parseV1Instances(body, width());
          if (!ready) return notReady(res);
          return runPrediction(res, rows, (predictions) =>
            label ? { predictions, model_version: label } : { predictions },
          );
        }
        const hl = req.headers[HEADER_LENGTH];
        const body = decodeInferBody(raw, typeof hl === 'string' ? hl : undefined);
        const parsed = parseV2Infer(body, width());
        if (!ready) return notReady(res);
        const headerId = req.headers['x-request-id'];
        const id = parsed.id ?? (typeof headerId === 'string' && headerId ? headerId : randomUUID());
        return runPrediction(res, parsed.rows, (classes) => ({
          model_name: modelName,
          model_version: modelVersion,
          id,
          outputs: [{ name: 'output-0', shape: [classes.length], datatype: 'INT64', data: classes }],
        }), wantsBinary(body, 'output-0'));
      }
    }
  }

  const server = http.createServer((req, res) => {
    active++;
    res.setHeader('x-demo-replica', replicaId);
    if (label) res.setHeader('x-demo-label', label);
    if (closing) res.setHeader('connection', 'close');
    res.on('close', () => {
      active--;
      if (closing) server.closeIdleConnections();
    });
    handle(req, res).catch((err: unknown) => {
      if (err instanceof BadPayload) writeError(res, 400, err.message);
      else if (err instanceof PayloadTooLarge) writeError(res, 413, err.message, { connection: 'close' });
      else writeError(res, 500, errorMessage(err));
    });
  });
  server.keepAliveTimeout = 5_000;

  let shutdownPromise: Promise<void> | null = null;

  return {
    server,
    whenReady,
    isReady: () => ready,
    listen(port: number, host = '127.0.0.1'): Promise<number> {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    shutdown(timeoutMs = 30_000): Promise<void> {
      if (shutdownPromise) return shutdownPromise;
      closing = true;
      shutdownPromise = new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.closeAllConnections();
        }, timeoutMs);
        force.unref();
        if (!server.listening) {
          clearTimeout(force);
          resolve();
          return;
        }
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return shutdownPromise;
    },
    stats,
  };
}
