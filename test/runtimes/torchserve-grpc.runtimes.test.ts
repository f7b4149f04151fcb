/**
 * TorchServe's own gRPC inference API (org.pytorch.serve.grpc.inference.InferenceAPIsService, served by its
 * frontend on grpc_inference_port) THROUGH Sluice, from zero, with a real `@grpc/grpc-js` client: the
 * kserve-torchserve recipe passes `{{grpcPort}}`, so the local backend announces the replica's gRPC address.
 * The service is not OIP, so calls are routed by `:authority` (the service's host). Predictions equal the model's
 * own (expected.json); the first call is a cold start; TorchServe's own errors pass unchanged; the revision
 * returns to zero. (Its StreamPredictions needs a handler that sends intermediate responses; with this model's
 * plain handler TorchServe itself answers INTERNAL "Worker died", so server streaming is tested on OIP runtimes.) Needs the venvs: `npm run test:runtimes`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, startTestSluice } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { waitUntil } from '../support/wait.js';
import { train, venvPython, type Expected } from './harness.js';

const work = mkdtempSync(join(tmpdir(), 'sluice-ts-grpc-'));
const KEY = 'default/ts-grpc-predictor-00001';
let sluice: Embedded;
let expected: Expected;
let client: grpc.Client;
let Service: grpc.ServiceClientConstructor;

type Call = (req: object, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply: { prediction?: Buffer; health?: string }) => void) => grpc.ClientUnaryCall;

function call<T>(method: string, req: object, deadlineMs = 60_000): Promise<{ err: grpc.ServiceError | null; reply: T | null; metadata: grpc.Metadata | null }> {
  return callOn<T>(client, method, req, deadlineMs);
}

function callOn<T>(on: grpc.Client, method: string, req: object, deadlineMs = 60_000): Promise<{ err: grpc.ServiceError | null; reply: T | null; metadata: grpc.Metadata | null }> {
  return new Promise((resolve) => {
    let metadata: grpc.Metadata | null = null;
    const fn = (on as unknown as Record<string, Call>)[method]!.bind(client);
    const c = fn(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, reply) => setImmediate(() => resolve({ err, reply: reply as T, metadata })));
    c.on('metadata', (m: grpc.Metadata) => (metadata = m));
  });
}

beforeAll(async () => {
  expected = train('kserve', 'torch_mnist', join(work, 'ts-grpc'), { SLUICE_TORCH_MODEL_NAME: 'ts-grpc' });
  sluice = await startTestSluice(
    configFolder({
      'ts-grpc.yaml': `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ts-grpc
  annotations:
    autoscaling.knative.dev/initial-scale: "0"
    autoscaling.knative.dev/window: "6s"
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 1
    model:
      modelFormat: {name: pytorch}
      runtime: kserve-torchserve
      storageUri: file://${join(work, 'ts-grpc')}
`,
    }),
    { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 },
    venvPython('kserve'),
  );
  const def = loader.loadSync(join(SLUICE_ROOT, 'test', 'support', 'grpc', 'torchserve.proto'), { keepCase: true, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { org: { pytorch: { serve: { grpc: { inference: { InferenceAPIsService: grpc.ServiceClientConstructor } } } } } };
  Service = pkg.org.pytorch.serve.grpc.inference.InferenceAPIsService;
  client = new Service(new URL(sluice.dataUrl).host, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'ts-grpc.default.example.com' });
}, 300_000);

afterAll(async () => {
  client?.close();
  await sluice?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("TorchServe's own gRPC API through Sluice (grpc-js client)", () => {
  it('Predictions from zero: a cold start, and the model\'s own classes', async () => {
    expect(sluice.backend.counts(KEY).ready).toBe(0);
    const body = Buffer.from(JSON.stringify({ instances: expected.inputs }));
    const r = await call<{ prediction: Buffer }>('Predictions', { model_name: 'ts-grpc', input: { data: body } }, 240_000);
    expect(r.err).toBeNull();
    expect(JSON.parse(r.reply!.prediction.toString('utf8'))).toEqual({ predictions: expected.predict });
    expect(Number(r.metadata!.get('x-sluice-cold-start')[0])).toBeGreaterThan(0);
  }, 300_000);

  it("an unknown model: TorchServe's own status and message, as the replica gives them directly", async () => {
    const through = await call('Predictions', { model_name: 'nope', input: { data: Buffer.from('{}') } });
    const [ep] = sluice.backend.endpoints(KEY);
    expect(ep?.grpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const direct = new Service(new URL(ep!.grpcUrl!).host, grpc.credentials.createInsecure());
    try {
      const own = await callOn(direct, 'Predictions', { model_name: 'nope', input: { data: Buffer.from('{}') } });
      expect(own.err).not.toBeNull();
      expect([through.err?.code, through.err?.details]).toEqual([own.err!.code, own.err!.details]);
    } finally {
      direct.close();
    }
  }, 60_000);

  it("TorchServe's Ping passes through", async () => {
    const ping = await call<{ health: string }>('Ping', {});
    expect(ping.err).toBeNull();
    expect(JSON.parse(ping.reply!.health)).toMatchObject({ status: 'Healthy' });
  }, 60_000);

  it('the revision returns to zero', async () => {
    await waitUntil('ts-grpc back at zero', () => (sluice.backend.counts(KEY).ready === 0 ? true : undefined), 120_000, 500);
  }, 130_000);
});
