/**
 * A real KServe SDK transformer (examples/transformer/iris_transformer.py: a kserve.Model with preprocess and
 * postprocess, unmodified KServe contract) in front of the real KServe sklearn server, both at zero, through one
 * embedded Sluice: the first request wakes the transformer, whose SDK calls the predictor at the
 * `--predictor_host` Sluice gave it (Sluice's data port), which wakes the predictor. Then both return to zero.
 * Needs the kserve venv: `npm run test:runtimes`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';
import { ROOT, curl, train, venvPython, type Expected } from './harness.js';

const work = mkdtempSync(join(tmpdir(), 'sluice-transformer-'));
let sluice: Embedded;
let expected: Expected;

/** `wake`: whether the transformer's wake-up also wakes the predictor (Sluice's default) or leaves it to the call. */
const SERVICE = (name: string, modelDir: string, wake: boolean): string => `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${name}
  annotations:
    autoscaling.knative.dev/initial-scale: "0"
    autoscaling.knative.dev/window: "6s"
    autoscaling.sluice.dev/wake-predictor: "${wake}"
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 1
    model:
      modelFormat: {name: sklearn}
      runtime: kserve-sklearnserver
      protocolVersion: v1
      storageUri: file://${modelDir}
  transformer:
    minReplicas: 0
    maxReplicas: 1
    containers:
      - name: kserve-container
        image: example.com/iris-transformer:1
        command: ["${venvPython('kserve')}", "${join(ROOT, 'examples', 'transformer', 'iris_transformer.py')}"]
        args: ["--enable_grpc", "false"]
`;

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const SPECIES = ['setosa', 'versicolor', 'virginica'];
const rev = (component: string, service = 'iris-chain') => sluice.backend.counts(`default/${service}-${component}-00001`);

beforeAll(async () => {
  expected = train('kserve', 'sklearn_iris', join(work, 'iris'));
  const services = { 'iris-chain.yaml': SERVICE('iris-chain', join(work, 'iris'), true), 'iris-serial.yaml': SERVICE('iris-serial', join(work, 'iris'), false) };
  sluice = await startTestSluice(configFolder(services), { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 }, venvPython('kserve'));
});

afterAll(async () => {
  await sluice?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('a KServe SDK transformer in front of the KServe sklearn server, both from zero', () => {
  it('the first request wakes both and gets the transformed answer', async () => {
    expect(rev('transformer')).toMatchObject({ desired: 0, ready: 0, starting: 0 });
    expect(rev('predictor')).toMatchObject({ desired: 0, ready: 0, starting: 0 });
    const flowers = expected.inputs.map((row) => Object.fromEntries(FEATURES.map((f, i) => [f, row[i]])));
    const started = performance.now();
    const first = await curl('POST', `${sluice.dataUrl}/v1/models/iris-chain:predict`, JSON.stringify({ flowers }));
    const ms = Math.round(performance.now() - started);
    console.log(`transformer + sklearn predictor, both from zero, wake-predictor on (default): first answer after ${ms} ms`);
    expect(first.status).toBe(200);
    const predict = expected.predict as number[];
    expect(first.json).toEqual({ predictions: predict, species: predict.map((p) => SPECIES[p]) });
    expect(rev('transformer').ready).toBe(1);
    expect(rev('predictor').ready).toBe(1);
    // The SDK's call to its predictor went through Sluice (the Host it sends is Sluice's address; the path routes).
    const metrics = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
    const predictor = { namespace: 'default', service: 'iris-chain', revision: 'iris-chain-predictor-00001' };
    expect(metricValue(metrics, 'sluice_requests_total', { ...predictor, code: '200' })).toBe(1);
    // A bad request is refused by the transformer's preprocess, as KServe's SDK answers it.
    const bad = await curl('POST', `${sluice.dataUrl}/v1/models/iris-chain:predict`, JSON.stringify({ instances: [[1, 2, 3, 4]] }));
    expect(bad.status).toBe(400);
    // The predictor's own host still reaches the predictor directly.
    const direct = await curl('POST', `${sluice.dataUrl}/serving/default/iris-chain-predictor/v1/models/iris-chain:predict`, JSON.stringify({ instances: expected.inputs }));
    expect(direct.json).toEqual({ predictions: predict });
  });

  it('with wake-predictor off, the predictor starts only when the transformer calls it (KServe\'s order)', async () => {
    expect(rev('predictor', 'iris-serial')).toMatchObject({ desired: 0, ready: 0 });
    const flowers = expected.inputs.map((row) => Object.fromEntries(FEATURES.map((f, i) => [f, row[i]])));
    const started = performance.now();
    const first = await curl('POST', `${sluice.dataUrl}/v1/models/iris-serial:predict`, JSON.stringify({ flowers }));
    const ms = Math.round(performance.now() - started);
    console.log(`transformer + sklearn predictor, both from zero, wake-predictor off: first answer after ${ms} ms`);
    expect(first.status).toBe(200);
    const metrics = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
    // The predictor was still at zero when the transformer's SDK called it: that call was a cold start.
    expect(metricValue(metrics, 'sluice_cold_starts_total', { namespace: 'default', service: 'iris-serial', revision: 'iris-serial-predictor-00001' })).toBe(1);
  });

  it('both return to zero once idle', async () => {
    const all = ['iris-chain', 'iris-serial'].flatMap((s) => ['transformer', 'predictor'].map((c) => rev(c, s)));
    await waitUntil('transformers and predictors at zero', () => ['iris-chain', 'iris-serial'].every((s) => ['transformer', 'predictor'].every((c) => rev(c, s).ready + rev(c, s).starting === 0)), 120_000, 500);
    expect(all.length).toBe(4);
  });
});
