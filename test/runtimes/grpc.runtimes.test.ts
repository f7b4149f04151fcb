/**
 * Real runtimes' gRPC (Open Inference Protocol v2) THROUGH Sluice, each from zero replicas, with real clients:
 * the KServe SDK's InferenceGRPCClient against the KServe model server (`--grpc_port`), tritonclient[grpc]
 * against MLServer and against Triton (ModelInfer, then Triton's bidirectional ModelStreamInfer). The clients
 * send no service host, so Sluice routes each call by the model name in its first message. Answers equal the
 * model's own (expected.json); the first call of each is a cold start; every revision returns to zero.
 * Needs the venvs: `npm run test:runtimes`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';
import { expectClose, kserveGrpc, rowsTensor, train, tritonGrpc, venvPython, type Expected, type VenvName } from './harness.js';

interface Row {
  name: string;
  runtime: string;
  format: string;
  venv: VenvName;
  script: string;
  env?: Record<string, string>;
}

const ROWS: Row[] = [
  { name: 'g-sk', runtime: 'kserve-sklearnserver', format: 'sklearn', venv: 'kserve', script: 'sklearn_iris' },
  { name: 'g-mls', runtime: 'kserve-mlserver', format: 'sklearn', venv: 'mlserver', script: 'sklearn_iris' },
  // Triton serves the models of its repository by their own names: this one is named after the service.
  { name: 'g-triton', runtime: 'kserve-tritonserver', format: 'triton', venv: 'kserve', script: 'triton_iris', env: { SLUICE_TRITON_MODEL_NAME: 'g-triton' } },
];

const work = mkdtempSync(join(tmpdir(), 'sluice-grpc-runtimes-'));
const expected = new Map<string, Expected>();
let sluice: Embedded;
let hostPort: string;

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
      protocolVersion: v2
      storageUri: file://${join(work, r.name)}
`;
}

beforeAll(async () => {
  const services: Record<string, string> = {};
  for (const r of ROWS) {
    expected.set(r.name, train(r.venv, r.script, join(work, r.name), r.env));
    services[`${r.name}.yaml`] = isvc(r);
  }
  sluice = await startTestSluice(configFolder(services), { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 }, venvPython('kserve'));
  hostPort = new URL(sluice.dataUrl).host;
}, 300_000);

afterAll(async () => {
  await sluice?.close();
  rmSync(work, { recursive: true, force: true });
});

const revision = (name: string): string => `${name}-predictor-00001`;
const counts = (name: string) => sluice.backend.counts(`default/${revision(name)}`);

async function coldStarts(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
  return metricValue(text, 'sluice_cold_starts_total', { revision: revision(name) });
}

describe('real runtimes\' gRPC through Sluice, from zero', () => {
  it('KServe SDK InferenceGRPCClient → KServe sklearn server (--grpc_port): cold start, the model\'s answer', async () => {
    const e = expected.get('g-sk')!;
    expect(counts('g-sk').ready).toBe(0);
    const out = await kserveGrpc(hostPort, 'g-sk', { inputs: [rowsTensor('input-0', e.inputs)] });
    expect(out).toMatchObject({ ok: true, model_name: 'g-sk' });
    expect(Object.values(out.outputs as Record<string, unknown>)[0]).toEqual(e.predict);
    expect(await coldStarts('g-sk')).toBe(1);
  }, 240_000);

  it('tritonclient[grpc] → MLServer (sklearn): cold start, the model\'s answer', async () => {
    const e = expected.get('g-mls')!;
    expect(counts('g-mls').ready).toBe(0);
    const out = await tritonGrpc(hostPort, 'g-mls', { inputs: [rowsTensor('input-0', e.inputs)] });
    expect(out).toMatchObject({ ok: true });
    expect((out.outputs as Record<string, unknown>).predict).toEqual((e.predict as number[]).map((p) => [p]));
    expect(await coldStarts('g-mls')).toBe(1);
  }, 240_000);

  it('tritonclient[grpc] → Triton: cold start, the model\'s answer, then a bidirectional ModelStreamInfer passes through', async () => {
    const e = expected.get('g-triton')!;
    expect(counts('g-triton').ready).toBe(0);
    const out = await tritonGrpc(hostPort, 'g-triton', { inputs: [rowsTensor('input__0', e.inputs)] });
    expect(out).toMatchObject({ ok: true });
    expect((out.outputs as Record<string, unknown>).predict).toEqual(e.predict);
    expectClose((out.outputs as Record<string, unknown>).predict_proba, e.predict_proba);
    expect(await coldStarts('g-triton')).toBe(1);
    const streamed = await tritonGrpc(hostPort, 'g-triton', { inputs: [rowsTensor('input__0', e.inputs)] }, 3);
    expect(streamed).toMatchObject({ ok: true });
    const answers = streamed.streamed as Array<Record<string, unknown>>;
    expect(answers).toHaveLength(3);
    for (const a of answers) expect(a.predict).toEqual(e.predict);
  }, 300_000);

  it('every revision returns to zero', async () => {
    await waitUntil('every revision at zero', () => ROWS.every((r) => counts(r.name).ready === 0 && counts(r.name).starting === 0), 60_000);
  }, 90_000);
});
