/**
 * The real model runtimes served THROUGH Sluice: one embedded Sluice (gateway, activator, autoscaler, local
 * backend) with an InferenceService per runtime, each starting at zero replicas. Every first call is a cold
 * start through the activator; answers are compared with the model's own predictions (expected.json) using
 * real clients (curl, the KServe SDK's REST client, tritonclient[http]); at the end every revision has scaled
 * back to zero. Needs the venvs: `npm run test:runtimes`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import type { RunningReplica } from '../support/recipe-process.js';
import { configFolder, startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';
import { curl, expectClose, kserveRest, rowsTensor, train, tritonHttp, venvPython, type Expected, type VenvName } from './harness.js';

interface Row {
  name: string;
  runtime: string;
  format: string;
  protocol: 'v1' | 'v2';
  venv: VenvName;
  script: string;
  subdir?: string;
}

const ROWS: Row[] = [
  { name: 'iris-sk', runtime: 'kserve-sklearnserver', format: 'sklearn', protocol: 'v1', venv: 'kserve', script: 'sklearn_iris' },
  { name: 'iris-xgb', runtime: 'kserve-xgbserver', format: 'xgboost', protocol: 'v1', venv: 'kserve', script: 'xgboost_iris' },
  { name: 'iris-lgb', runtime: 'kserve-lgbserver', format: 'lightgbm', protocol: 'v2', venv: 'kserve', script: 'lightgbm_iris' },
  { name: 'iris-pmml', runtime: 'kserve-pmmlserver', format: 'pmml', protocol: 'v1', venv: 'kserve', script: 'pmml_iris' },
  { name: 'iris-mls-sk', runtime: 'kserve-mlserver', format: 'sklearn', protocol: 'v2', venv: 'mlserver', script: 'sklearn_iris' },
  { name: 'mnist', runtime: 'kserve-torchserve', format: 'pytorch', protocol: 'v1', venv: 'kserve', script: 'torch_mnist' },
  { name: 'iris', runtime: 'kserve-tritonserver', format: 'triton', protocol: 'v2', venv: 'kserve', script: 'triton_iris' },
  { name: 'iris-tf', runtime: 'kserve-tensorflow-serving', format: 'tensorflow', protocol: 'v1', venv: 'kserve', script: 'linear_iris', subdir: '1' },
  { name: 'iris-custom', runtime: 'custom-linear-model', format: 'custom-linear', protocol: 'v1', venv: 'kserve', script: 'linear_iris' },
];

/**
 * KServe's "Custom ModelServer" row: a kserve.Model subclass (runtimes/launchers/custom_model.py), brought in
 * the way a user would: a ClusterServingRuntime of their own plus its local launch recipe, in the config folder.
 */
const CUSTOM_RUNTIME = `apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata:
  name: custom-linear-model
spec:
  supportedModelFormats:
    - name: custom-linear
      autoSelect: true
  protocolVersions: [v1, v2]
  containers:
    - name: kserve-container
      image: example.com/custom-linear-model:1.0
      args: ["--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"]
---
apiVersion: sluice.dev/v1alpha1
kind: LocalLaunchRecipe
metadata:
  name: custom-linear-model
spec:
  command: "{{python}}"
  args: ["{{sluiceRoot}}/runtimes/launchers/custom_model.py", "--model_name", "{{modelName}}", "--model_dir", "{{modelDir}}", "--http_port", "{{port}}"]
  env: {}
  readinessPath: /v2/health/ready
  startupTimeoutSeconds: 180
`;

const work = mkdtempSync(join(tmpdir(), 'sluice-through-'));
const expected = new Map<string, Expected>();
let sluice: Embedded;
/** The gateway, shaped like a replica for the SDK clients of the harness. */
let gateway: RunningReplica;

function isvc(r: Row): string {
  return `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${r.name}
  annotations:
    autoscaling.knative.dev/initial-scale: "0"
    autoscaling.knative.dev/window: "6s"
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 1
    model:
      modelFormat: {name: ${r.format}}
      runtime: ${r.runtime}
      protocolVersion: ${r.protocol}
      storageUri: file://${join(work, r.name)}
`;
}

beforeAll(async () => {
  const services: Record<string, string> = { 'custom-runtime.yaml': CUSTOM_RUNTIME };
  for (const r of ROWS) {
    expected.set(r.name, train(r.venv, r.script, join(work, r.name, r.subdir ?? '')));
    services[`${r.name}.yaml`] = isvc(r);
  }
  sluice = await startTestSluice(configFolder(services), { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 }, venvPython('kserve'));
  const port = Number(new URL(sluice.dataUrl).port);
  gateway = { port, baseUrl: sluice.dataUrl, readyAfterMs: 0, stop: async () => undefined } as unknown as RunningReplica;
});

afterAll(async () => {
  await sluice?.close();
  rmSync(work, { recursive: true, force: true });
});

/** First call from zero: the cold start header must be there. */
async function coldCall(path: string, body: unknown): Promise<{ status: number; json: unknown; coldStartMs: number }> {
  const res = await fetch(`${sluice.dataUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const cold = res.headers.get('x-sluice-cold-start');
  return { status: res.status, json: await res.json(), coldStartMs: cold === null ? -1 : Number(cold) };
}

const counts = (name: string) => sluice.backend.counts(`default/${name}-predictor-00001`);

describe('real runtimes through Sluice, from zero', () => {
  it('kserve-sklearnserver: v1 cold start, then curl and the KServe SDK', async () => {
    const e = expected.get('iris-sk')!;
    expect(counts('iris-sk').ready).toBe(0);
    const first = await coldCall('/v1/models/iris-sk:predict', { instances: e.inputs });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ predictions: e.predict });
    expect(first.coldStartMs).toBeGreaterThan(0);
    const again = await curl('POST', `${sluice.dataUrl}/v1/models/iris-sk:predict`, JSON.stringify({ instances: e.inputs }));
    expect(again.json).toEqual({ predictions: e.predict });
    expect(await kserveRest(gateway, 'iris-sk', 'v1', { instances: e.inputs })).toEqual({ ok: true, body: { predictions: e.predict } });
  });

  it('kserve-xgbserver: v1 cold start equals the Booster', async () => {
    const e = expected.get('iris-xgb')!;
    const first = await coldCall('/v1/models/iris-xgb:predict', { instances: e.inputs });
    expect(first.status).toBe(200);
    expect(first.coldStartMs).toBeGreaterThan(0);
    expectClose((first.json as { predictions: unknown }).predictions, e.booster_predict);
  });

  it('kserve-lgbserver: v2 cold start, then the KServe SDK v2 client', async () => {
    const e = expected.get('iris-lgb')!;
    const first = await coldCall('/v2/models/iris-lgb/infer', { inputs: [rowsTensor('input-0', e.inputs)] });
    expect(first.status).toBe(200);
    expect(first.coldStartMs).toBeGreaterThan(0);
    const out = await kserveRest(gateway, 'iris-lgb', 'v2', { inputs: [rowsTensor('input-0', e.inputs)] });
    expectClose(((out.body as Record<string, unknown>).outputs as Record<string, unknown>)['output-0'], e.booster_predict);
  });

  it('kserve-pmmlserver: v1 cold start equals pypmml', async () => {
    const e = expected.get('iris-pmml')!;
    const first = await coldCall('/v1/models/iris-pmml:predict', { instances: e.inputs });
    expect(first.status).toBe(200);
    expect(first.coldStartMs).toBeGreaterThan(0);
    expectClose((first.json as { predictions: unknown }).predictions, e.records, 1e-9);
  });

  it('kserve-mlserver (sklearn): v2 cold start, then tritonclient[http]', async () => {
    const e = expected.get('iris-mls-sk')!;
    const first = await coldCall('/v2/models/iris-mls-sk/infer', { inputs: [rowsTensor('input-0', e.inputs)] });
    expect(first.status).toBe(200);
    expect(first.coldStartMs).toBeGreaterThan(0);
    const out = await tritonHttp(gateway, 'iris-mls-sk', { inputs: [rowsTensor('input-0', e.inputs)] });
    expect((out.outputs as Record<string, unknown>).predict).toEqual((e.predict as number[]).map((p) => [p]));
  });

  it('kserve-torchserve: v1 cold start, and a handler error passes through with its status and body', async () => {
    const e = expected.get('mnist')!;
    const first = await coldCall('/v1/models/mnist:predict', { instances: e.inputs });
    expect(first.status).toBe(200);
    expect(first.coldStartMs).toBeGreaterThan(0);
    expect(first.json).toEqual({ predictions: e.predict });
    const bad = await curl('POST', `${sluice.dataUrl}/v1/models/mnist:predict`, JSON.stringify({ instances: [[5.1, 3.5]] }));
    expect(bad.status).toBe(503);
    expect(bad.json).toEqual({ code: 503, type: 'InternalServerException', message: 'Prediction failed' });
  });

  it('kserve-tritonserver: v2 cold start through tritonclient[http]', async () => {
    const e = expected.get('iris')!;
    expect(counts('iris').ready).toBe(0);
    // tritonclient is the first caller here: the cold start shows in Sluice's metrics.
    const out = await tritonHttp(gateway, 'iris', { inputs: [rowsTensor('input__0', e.inputs)] });
    expect(out.ok).toBe(true);
    expect((out.outputs as Record<string, unknown>).predict).toEqual(e.predict);
    expectClose((out.outputs as Record<string, unknown>).predict_proba, e.predict_proba);
    const metrics = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/sluice_cold_starts_total\{namespace="default",service="iris",revision="iris-predictor-00001"\} 1\n/);
  });

  it('kserve-tensorflow-serving (stand-in): v1 cold start, TF Serving error shape passes through', async () => {
    const e = expected.get('iris-tf')!;
    const first = await coldCall('/v1/models/iris-tf:predict', { instances: e.inputs });
    expect(first.status).toBe(200);
    expect(first.coldStartMs).toBeGreaterThan(0);
    expectClose((first.json as { predictions: unknown }).predictions, e.predict_proba, 1e-9);
    const bad = await curl('POST', `${sluice.dataUrl}/v1/models/iris-tf:predict`, JSON.stringify({ instances: [[5.1, 3.5]] }));
    expect(bad.status).toBe(400);
  });

  it('custom model server (a kserve.Model subclass, own ServingRuntime): v1 cold start, v2 through tritonclient', async () => {
    const e = expected.get('iris-custom')!;
    const first = await coldCall('/v1/models/iris-custom:predict', { instances: e.inputs });
    expect(first.status).toBe(200);
    expect(first.coldStartMs).toBeGreaterThan(0);
    expect(first.json).toEqual({ predictions: e.predict });
    const v2 = await tritonHttp(gateway, 'iris-custom', { inputs: [rowsTensor('input-0', e.inputs)] });
    expect(v2).toEqual({ ok: true, outputs: { 'output-0': e.predict } });
    const bad = await curl('POST', `${sluice.dataUrl}/v1/models/iris-custom:predict`, JSON.stringify({ instances: [[5.1, 3.5]] }));
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'expected rows of 4 numbers, got shape [1, 2]' });
  });

  it('every revision scales back to zero once idle', async () => {
    await waitUntil('every runtime to scale to zero', () => ROWS.every((r) => counts(r.name).ready === 0 && counts(r.name).starting === 0), 120_000, 500);
  });
});
