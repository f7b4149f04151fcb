/**
 * Conformance of the real model runtimes, called DIRECTLY (not through Sluice yet): each runtime is started
 * from its deploy/catalogue/local/<runtime>.yaml recipe on a model trained here a moment before, waited for on
 * its readiness path, called with real clients (curl, the KServe SDK's REST client, tritonclient[http]), and
 * its answers compared with the predictions the training script computed in Python (expected.json).
 * The "observed contract" tests pin what each runtime answers to bad input: status code and body shape.
 * Needs the venvs: `npm run test:runtimes` (runs runtimes/setup-venv.sh first).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningReplica } from '../support/recipe-process.js';
import {
  curl,
  expectClose,
  kserveRest,
  launch,
  recipe,
  rowsTensor,
  train,
  tritonHttp,
  type Expected,
  type VenvName,
} from './harness.js';

const suiteStart = Date.now() - 1_000;
const work = mkdtempSync(join(tmpdir(), 'sluice-runtimes-'));
const logs = join(work, 'logs');
mkdirSync(logs);
const live = new Set<RunningReplica>();
const coldStarts: string[] = [];

afterAll(async () => {
  console.log(`cold start (spawn -> readiness 200):\n${coldStarts.join('\n')}`);
  await Promise.all([...live].map((r) => r.stop()));
  if (process.env.SLUICE_KEEP_RUNTIME_WORK === undefined) rmSync(work, { recursive: true, force: true });
});

/** Trains into a fresh dir (or its `trainSubdir`), launches the recipe on the dir, stops the replica after the block. */
function serving(runtime: string, venv: VenvName, script: string, modelName: string, trainSubdir = '') {
  const state: { replica?: RunningReplica; expected?: Expected; dir: string } = { dir: join(work, `${runtime}-${script}`) };
  beforeAll(async () => {
    state.expected = train(venv, script, join(state.dir, trainSubdir));
    state.replica = await launch(recipe(runtime), modelName, state.dir, logs);
    coldStarts.push(`  ${runtime} ${script}: ${state.replica.readyAfterMs} ms`);
    live.add(state.replica);
  });
  afterAll(async () => {
    if (state.replica) {
      await state.replica.stop();
      live.delete(state.replica);
    }
  });
  return {
    get replica(): RunningReplica {
      if (!state.replica) throw new Error(`${runtime} did not start`);
      return state.replica;
    },
    get expected(): Expected {
      if (!state.expected) throw new Error(`${script} did not train`);
      return state.expected;
    },
  };
}

const BAD_ROWS = [[5.1, 3.5]];

describe('kserve-sklearnserver (KServe SDK launcher, scikit-learn)', () => {
  const s = serving('kserve-sklearnserver', 'kserve', 'sklearn_iris', 'iris-sk');

  it('v1 :predict with curl returns the model\'s own predictions', async () => {
    const res = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-sk:predict`, JSON.stringify({ instances: s.expected.inputs }));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ predictions: s.expected.predict });
  });

  it('v1 through the KServe SDK InferenceRESTClient', async () => {
    const out = await kserveRest(s.replica, 'iris-sk', 'v1', { instances: s.expected.inputs });
    expect(out).toEqual({ ok: true, body: { predictions: s.expected.predict } });
  });

  it('v2 /infer through tritonclient[http]', async () => {
    const out = await tritonHttp(s.replica, 'iris-sk', { inputs: [rowsTensor('input-0', s.expected.inputs)] });
    expect(out).toEqual({ ok: true, outputs: { 'output-0': s.expected.predict } });
  });

  it('v2 through the KServe SDK InferenceRESTClient', async () => {
    const out = await kserveRest(s.replica, 'iris-sk', 'v2', { inputs: [rowsTensor('input-0', s.expected.inputs)] });
    expect(out).toMatchObject({ ok: true, body: { model_name: 'iris-sk', outputs: { 'output-0': s.expected.predict } } });
  });

  it('observed contract: wrong feature count -> 500 {"error"}; unknown model -> 404; bad JSON -> 400', async () => {
    const bad = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-sk:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(bad.status).toBe(500);
    expect(bad.json).toEqual({ error: 'X has 2 features, but LogisticRegression is expecting 4 features as input.' });
    const missing = await curl('POST', `${s.replica.baseUrl}/v1/models/nope:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: 'Model with name nope does not exist.' });
    const garbage = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-sk:predict`, 'garbage');
    expect(garbage.status).toBe(400);
    expect(garbage.json).toEqual({ error: expect.stringMatching(/^Unrecognized request format/) });
    const v2 = await tritonHttp(s.replica, 'iris-sk', { inputs: [rowsTensor('input-0', BAD_ROWS)] });
    expect(v2).toMatchObject({ ok: false, status: '500', error: expect.stringContaining('X has 2 features') });
  });

  it('observed contract: a v2 JSON body without Content-Type: application/json is refused with 400', async () => {
    // tritonclient[http] sends no Content-Type by default; KServe then reads the body as binary tensor data.
    const out = await tritonHttp(s.replica, 'iris-sk', { inputs: [rowsTensor('input-0', s.expected.inputs)], json_content_type: false });
    expect(out).toEqual({
      ok: false,
      status: '400',
      error: "received byte inputs, but the'inference-header-content-length' header is missing.",
    });
  });

  it('model and server readiness paths answer like KServe', async () => {
    expect((await curl('GET', `${s.replica.baseUrl}/v1/models/iris-sk`)).json).toEqual({ name: 'iris-sk', ready: true });
    expect((await curl('GET', `${s.replica.baseUrl}/v2/models/iris-sk/ready`)).json).toEqual({ name: 'iris-sk', ready: true });
    expect((await curl('GET', `${s.replica.baseUrl}/v2/health/live`)).json).toEqual({ live: true });
  });
});

describe('kserve-xgbserver (KServe SDK launcher, XGBoost Booster)', () => {
  const s = serving('kserve-xgbserver', 'kserve', 'xgboost_iris', 'iris-xgb');

  it('v1 :predict returns the Booster\'s class probabilities', async () => {
    const res = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-xgb:predict`, JSON.stringify({ instances: s.expected.inputs }));
    expect(res.status).toBe(200);
    expectClose((res.json as { predictions: unknown }).predictions, s.expected.booster_predict);
  });

  it('v2 through tritonclient[http]', async () => {
    const out = await tritonHttp(s.replica, 'iris-xgb', { inputs: [rowsTensor('input-0', s.expected.inputs)] });
    expect(out.ok).toBe(true);
    expectClose((out.outputs as Record<string, unknown>)['output-0'], s.expected.booster_predict);
  });

  it('observed contract: too few features is NOT refused: 200 with a prediction (XGBoost takes them as missing)', async () => {
    const bad = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-xgb:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(bad.status).toBe(200);
    expect((bad.json as { predictions: number[][] }).predictions).toHaveLength(1);
    const unknown = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-xgb:predict`, JSON.stringify({ instances: [[1, 2, 3, 4, 5]] }));
    expect(unknown.status).toBe(500);
    expect(unknown.json).toEqual({ error: expect.stringMatching(/[Ff]eature/) });
  });
});

describe('kserve-lgbserver (KServe SDK launcher, LightGBM Booster)', () => {
  const s = serving('kserve-lgbserver', 'kserve', 'lightgbm_iris', 'iris-lgb');

  it('v1 :predict returns the Booster\'s class probabilities', async () => {
    const res = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-lgb:predict`, JSON.stringify({ instances: s.expected.inputs }));
    expect(res.status).toBe(200);
    expectClose((res.json as { predictions: unknown }).predictions, s.expected.booster_predict);
  });

  it('v2 through the KServe SDK InferenceRESTClient', async () => {
    const out = await kserveRest(s.replica, 'iris-lgb', 'v2', { inputs: [rowsTensor('input-0', s.expected.inputs)] });
    expect(out.ok).toBe(true);
    expectClose(((out.body as Record<string, unknown>).outputs as Record<string, unknown>)['output-0'], s.expected.booster_predict);
  });

  it('observed contract: wrong feature count -> 500 {"error": "...number of features..."}', async () => {
    const bad = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-lgb:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(bad.status).toBe(500);
    expect(bad.json).toEqual({ error: expect.stringMatching(/number of features/) });
  });
});

describe('kserve-pmmlserver (KServe SDK launcher, pypmml on Java 17)', () => {
  const s = serving('kserve-pmmlserver', 'kserve', 'pmml_iris', 'iris-pmml');

  it('v1 :predict returns one record of output fields per row', async () => {
    const res = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-pmml:predict`, JSON.stringify({ instances: s.expected.inputs }));
    expect(res.status).toBe(200);
    expectClose((res.json as { predictions: unknown }).predictions, s.expected.records, 1e-9);
  });

  it('v2 returns one output tensor per PMML output field', async () => {
    const out = await tritonHttp(s.replica, 'iris-pmml', { inputs: [rowsTensor('input-0', s.expected.inputs)] });
    expect(out.ok).toBe(true);
    const outputs = out.outputs as Record<string, unknown>;
    expect(outputs.predicted_species).toEqual(s.expected.predict);
    const records = s.expected.records as Array<Record<string, number>>;
    expectClose(outputs.probability_virginica, records.map((r) => r.probability_virginica), 1e-9);
  });

  it('observed contract: wrong column count -> 500 {"error"}', async () => {
    const bad = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-pmml:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(bad.status).toBe(500);
    expect(bad.json).toEqual({ error: '4 columns passed, passed data had 2 columns' });
  });
});

describe('kserve-paddleserver (KServe SDK launcher, Paddle Inference 3.3)', () => {
  const s = serving('kserve-paddleserver', 'paddle', 'paddle_iris', 'iris-paddle');

  it('v1 :predict returns the exported program\'s softmax output', async () => {
    const res = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-paddle:predict`, JSON.stringify({ instances: s.expected.inputs }));
    expect(res.status).toBe(200);
    expectClose((res.json as { predictions: unknown }).predictions, s.expected.predict_proba, 1e-6);
  });

  it('v2 through tritonclient[http] (FP32 tensor)', async () => {
    const input = { ...rowsTensor('x', s.expected.inputs), datatype: 'FP32' as const };
    const out = await tritonHttp(s.replica, 'iris-paddle', { inputs: [input] });
    expect(out.ok).toBe(true);
    expectClose((out.outputs as Record<string, unknown>)['output-0'], s.expected.predict_proba, 1e-6);
  });

  it('observed contract: wrong shape -> 500 {"error": "Failed to predict ..."}; non-numbers -> 400', async () => {
    const bad = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-paddle:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(bad.status).toBe(500);
    expect(bad.json).toEqual({ error: expect.stringMatching(/^Failed to predict .*InvalidArgumentError/s) });
    const words = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-paddle:predict`, JSON.stringify({ instances: [['a', 'b', 'c', 'd']] }));
    expect(words.status).toBe(400);
    expect(words.json).toEqual({ error: expect.stringMatching(/^Failed to initialize NumPy array from inputs/) });
  });
});

describe('custom model (a kserve.Model subclass)', () => {
  const doc = {
    name: 'custom-linear-model',
    spec: {
      ...recipe('kserve-sklearnserver').spec,
      args: ['{{sluiceRoot}}/runtimes/launchers/custom_model.py', '--model_name', '{{modelName}}', '--model_dir', '{{modelDir}}', '--http_port', '{{port}}'],
    },
  };
  let replica: RunningReplica;
  let expected: Expected;
  beforeAll(async () => {
    const dir = join(work, 'custom');
    expected = train('kserve', 'linear_iris', dir);
    replica = await launch(doc, 'iris-custom', dir, logs);
    coldStarts.push(`  custom-model linear_iris: ${replica.readyAfterMs} ms`);
    live.add(replica);
  });
  afterAll(async () => {
    await replica?.stop();
    live.delete(replica);
  });

  it('v1 and v2 answer the same classes scikit-learn predicts', async () => {
    const v1 = await curl('POST', `${replica.baseUrl}/v1/models/iris-custom:predict`, JSON.stringify({ instances: expected.inputs }));
    expect(v1.json).toEqual({ predictions: expected.predict });
    const v2 = await tritonHttp(replica, 'iris-custom', { inputs: [rowsTensor('input-0', expected.inputs)] });
    expect(v2).toEqual({ ok: true, outputs: { 'output-0': expected.predict } });
  });

  it('observed contract: InvalidInput from preprocess -> 400 {"error"}', async () => {
    const bad = await curl('POST', `${replica.baseUrl}/v1/models/iris-custom:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'expected rows of 4 numbers, got shape [1, 2]' });
    const noKey = await curl('POST', `${replica.baseUrl}/v1/models/iris-custom:predict`, JSON.stringify({ rows: [] }));
    expect(noKey.status).toBe(400);
    expect(noKey.json).toEqual({ error: 'expected "instances" (v1) or "inputs" (v2)' });
  });
});

describe('kserve-mlserver (Seldon MLServer)', () => {
  describe('sklearn runtime', () => {
    const s = serving('kserve-mlserver', 'mlserver', 'sklearn_iris', 'iris-mls-sk');

    it('v2 through tritonclient[http]: predict, and predict_proba on request', async () => {
      const out = await tritonHttp(s.replica, 'iris-mls-sk', { inputs: [rowsTensor('input-0', s.expected.inputs)] });
      expect(out.ok).toBe(true);
      expect((out.outputs as Record<string, unknown>).predict).toEqual((s.expected.predict as number[]).map((p) => [p]));
      const proba = await tritonHttp(s.replica, 'iris-mls-sk', { inputs: [rowsTensor('input-0', s.expected.inputs)], outputs: ['predict_proba'] });
      expectClose((proba.outputs as Record<string, unknown>).predict_proba, s.expected.predict_proba);
    });

    it('observed contract: model error -> 500 plain text; unknown model -> 404 {"error"}; no v1 route', async () => {
      const body = JSON.stringify({ inputs: [rowsTensor('input-0', BAD_ROWS)] });
      const bad = await curl('POST', `${s.replica.baseUrl}/v2/models/iris-mls-sk/infer`, body);
      expect(bad.status).toBe(500);
      expect(bad.text).toBe('Internal Server Error');
      const missing = await curl('POST', `${s.replica.baseUrl}/v2/models/nope/infer`, body);
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ error: 'Model nope not found' });
      const v1 = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-mls-sk:predict`, JSON.stringify({ instances: BAD_ROWS }));
      expect(v1.status).toBe(404);
      expect(v1.json).toEqual({ detail: 'Not Found' });
    });
  });

  describe('xgboost runtime', () => {
    const s = serving('kserve-mlserver', 'mlserver', 'xgboost_iris', 'iris-mls-xgb');

    it('v2 predict and predict_proba match XGBClassifier', async () => {
      const out = await tritonHttp(s.replica, 'iris-mls-xgb', {
        inputs: [rowsTensor('input-0', s.expected.inputs)],
        outputs: ['predict', 'predict_proba'],
      });
      expect(out.ok).toBe(true);
      const outputs = out.outputs as Record<string, unknown>;
      expect(outputs.predict).toEqual((s.expected.predict as number[]).map((p) => [p]));
      expectClose(outputs.predict_proba, s.expected.predict_proba);
    });
  });

  describe('lightgbm runtime', () => {
    const s = serving('kserve-mlserver', 'mlserver', 'lightgbm_iris', 'iris-mls-lgb');

    it('v2 predict is the Booster\'s class probabilities', async () => {
      const out = await tritonHttp(s.replica, 'iris-mls-lgb', { inputs: [rowsTensor('input-0', s.expected.inputs)] });
      expect(out.ok).toBe(true);
      expectClose((out.outputs as Record<string, unknown>).predict, s.expected.booster_predict);
    });
  });

  describe('mlflow runtime', () => {
    const s = serving('kserve-mlserver', 'mlserver', 'mlflow_sklearn', 'iris-mls-mlflow');

    it('v2 with one column per feature (content_type pd) returns the pyfunc predictions', async () => {
      const columns = s.expected.columns as string[];
      const inputs = columns.map((name, j) => ({
        name,
        shape: [s.expected.inputs.length],
        datatype: 'FP64' as const,
        data: s.expected.inputs.map((row) => row[j]),
      }));
      const out = await tritonHttp(s.replica, 'iris-mls-mlflow', { inputs, parameters: { content_type: 'pd' } });
      expect(out.ok).toBe(true);
      // One output, shape [n, 1] (MLServer's pandas codec), named by the MLflow runtime.
      const [first] = Object.values(out.outputs as Record<string, unknown>);
      expect(first).toEqual((s.expected.predict as number[]).map((p) => [p]));
    });
  });
});

describe('kserve-torchserve (TorchServe, kserve v1 envelope)', () => {
  const s = serving('kserve-torchserve', 'kserve', 'torch_mnist', 'mnist');

  it('v1 /v1/models/mnist:predict and TorchServe\'s own /predictions/mnist give the model\'s classes', async () => {
    const body = JSON.stringify({ instances: s.expected.inputs });
    const v1 = await curl('POST', `${s.replica.baseUrl}/v1/models/mnist:predict`, body);
    expect(v1.status).toBe(200);
    expect(v1.json).toEqual({ predictions: s.expected.predict });
    const own = await curl('POST', `${s.replica.baseUrl}/predictions/mnist`, body);
    expect(own.json).toEqual({ predictions: s.expected.predict });
  });

  it('v1 through the KServe SDK InferenceRESTClient', async () => {
    const out = await kserveRest(s.replica, 'mnist', 'v1', { instances: s.expected.inputs });
    expect(out).toEqual({ ok: true, body: { predictions: s.expected.predict } });
  });

  it('observed contract: handler error -> 503 TorchServe JSON; unknown model -> 404; /v2/health/ready with OIP on', async () => {
    const bad = await curl('POST', `${s.replica.baseUrl}/v1/models/mnist:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(bad.status).toBe(503);
    expect(bad.json).toEqual({ code: 503, type: 'InternalServerException', message: 'Prediction failed' });
    const missing = await curl('POST', `${s.replica.baseUrl}/v1/models/nope:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ code: 404, type: 'ModelNotFoundException', message: 'Model not found: nope' });
    expect((await curl('GET', `${s.replica.baseUrl}/v2/health/ready`)).status).toBe(200);
  });
});

describe('kserve-torchserve with --protocol v2 (kservev2 envelope)', () => {
  const base = recipe('kserve-torchserve');
  const doc = { name: 'kserve-torchserve-v2', spec: { ...base.spec, args: base.spec.args.map((a) => (a === 'v1' ? 'v2' : a)) } };
  let replica: RunningReplica;
  let expected: Expected;
  beforeAll(async () => {
    const dir = join(work, 'torch-v2');
    expected = train('kserve', 'torch_mnist', dir);
    replica = await launch(doc, 'mnist', dir, logs);
    coldStarts.push(`  kserve-torchserve --protocol v2 torch_mnist: ${replica.readyAfterMs} ms`);
    live.add(replica);
  });
  afterAll(async () => {
    await replica?.stop();
    live.delete(replica);
  });

  it('v2 /infer through tritonclient[http]: one output named after the input, the model\'s classes', async () => {
    const out = await tritonHttp(replica, 'mnist', { inputs: [rowsTensor('input-0', expected.inputs)] });
    expect(out).toEqual({ ok: true, outputs: { 'input-0': expected.predict } });
  });
});

describe('kserve-tritonserver (Triton 2.51 from nvidia-pytriton, python backend, CPU)', () => {
  const s = serving('kserve-tritonserver', 'kserve', 'triton_iris', 'iris');

  it('v2 through tritonclient[http]: predict and predict_proba', async () => {
    const out = await tritonHttp(s.replica, 'iris', { inputs: [rowsTensor('input__0', s.expected.inputs)] });
    expect(out.ok).toBe(true);
    const outputs = out.outputs as Record<string, unknown>;
    expect(outputs.predict).toEqual(s.expected.predict);
    expectClose(outputs.predict_proba, s.expected.predict_proba);
  });

  it('v2 through the KServe SDK InferenceRESTClient', async () => {
    const out = await kserveRest(s.replica, 'iris', 'v2', { inputs: [rowsTensor('input__0', s.expected.inputs)] });
    expect(out).toMatchObject({ ok: true, body: { model_name: 'iris', outputs: { predict: s.expected.predict } } });
  });

  it('observed contract: wrong shape -> 400 {"error"}; unknown model -> 404; bad JSON -> 500; no v1 route', async () => {
    const bad = await curl('POST', `${s.replica.baseUrl}/v2/models/iris/infer`, JSON.stringify({ inputs: [rowsTensor('input__0', BAD_ROWS)] }));
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: expect.stringContaining("unexpected shape for input 'input__0'") });
    const missing = await curl('POST', `${s.replica.baseUrl}/v2/models/nope/infer`, JSON.stringify({ inputs: [] }));
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: "Request for unknown model: 'nope' is not found" });
    const garbage = await curl('POST', `${s.replica.baseUrl}/v2/models/iris/infer`, 'garbage');
    expect(garbage.status).toBe(500);
    expect(garbage.json).toEqual({ error: expect.stringMatching(/^failed to parse the request JSON buffer/) });
    const v1 = await curl('POST', `${s.replica.baseUrl}/v1/models/iris:predict`, '{}');
    expect(v1.status).toBe(404);
    expect(v1.json).toEqual({ error: 'Not Found' });
  });
});

describe('kserve-tensorflow-serving (STAND-IN: examples/stand-ins/tf-serving.ts)', () => {
  // TF Serving reads <model_base_path>/<version>/; the stand-in's "SavedModel" is weights.json in version 1.
  const s = serving('kserve-tensorflow-serving', 'kserve', 'linear_iris', 'iris-tf', '1');

  it('status, v1 :predict (softmax probabilities) and TF Serving error shapes', async () => {
    const status = await curl('GET', `${s.replica.baseUrl}/v1/models/iris-tf`);
    expect(status.json).toEqual({
      model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
    });
    const res = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-tf:predict`, JSON.stringify({ instances: s.expected.inputs }));
    expect(res.status).toBe(200);
    expectClose((res.json as { predictions: unknown }).predictions, s.expected.predict_proba, 1e-9);
    const bad = await curl('POST', `${s.replica.baseUrl}/v1/models/iris-tf:predict`, JSON.stringify({ instances: BAD_ROWS }));
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: expect.stringContaining('list of 4 numbers') });
  });
});

describe('after every runtime has been stopped', () => {
  it('no launcher scratch dir and no process of this run is left', async () => {
    const { readdirSync, statSync, readFileSync } = await import('node:fs');
    const leftovers = readdirSync(tmpdir())
      .filter((n) => /^sluice-(mlserver|torchserve)-/.test(n))
      .filter((n) => statSync(join(tmpdir(), n)).mtimeMs >= suiteStart);
    expect(leftovers).toEqual([]);
    const processes = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          return '';
        }
      })
      .filter((cmd) => cmd.includes(work));
    expect(processes).toEqual([]);
  });
});
