/**
 * One trace id across the gateway and a real Python runtime with its own OpenTelemetry: MLServer 1.7.1 (its
 * built-in tracing: FastAPI instrumentation, the Python SDK, OTLP over gRPC when MLSERVER_TRACING_SERVER is set),
 * started by Sluice from zero. Sluice exports to an in-test OTLP/HTTP receiver, MLServer to an in-test OTLP/gRPC
 * receiver; both decode with the official protos. Needs the venvs: `npm run test:runtimes`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { HOLD_SPAN } from '../../gateway/stages/tracing.js';
import { configFolder, startTestSluice } from '../support/embedded.js';
import { OtlpGrpcReceiver, OtlpReceiver } from '../support/otlp-receiver.js';
import { waitUntil } from '../support/wait.js';
import { rowsTensor, train, venvPython, type Expected } from './harness.js';

const work = mkdtempSync(join(tmpdir(), 'sluice-tracing-rt-'));
let gatewaySpans: OtlpReceiver;
let runtimeSpans: OtlpGrpcReceiver;
let sluice: Embedded;
let expected: Expected;

beforeAll(async () => {
  gatewaySpans = await OtlpReceiver.start();
  runtimeSpans = await OtlpGrpcReceiver.start();
  expected = train('mlserver', 'sklearn_iris', join(work, 'iris-traced'));
  const isvc = `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: iris-traced
  annotations:
    autoscaling.knative.dev/initial-scale: "0"
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 1
    model:
      modelFormat: {name: sklearn}
      runtime: kserve-mlserver
      protocolVersion: v2
      storageUri: file://${join(work, 'iris-traced')}
      env:
        - name: MLSERVER_TRACING_SERVER
          value: "${runtimeSpans.address}"
        - name: OTEL_BSP_SCHEDULE_DELAY
          value: "200"
`;
  sluice = await startTestSluice(
    configFolder({ 'iris-traced.yaml': isvc }),
    { tracingEndpoint: gatewaySpans.url, tracingSampler: 'parentbased_always_on' },
    venvPython('kserve'),
    { env: {} },
  );
}, 300_000);

afterAll(async () => {
  await sluice?.close();
  await gatewaySpans?.close();
  await runtimeSpans?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('one trace across Sluice and a runtime with its own OpenTelemetry', () => {
  it('a cold-start v2 infer to MLServer: the gateway’s server, hold and client spans and MLServer’s server span share the trace; MLServer’s parent is Sluice’s attempt', async () => {
    const traceId = '5eed'.repeat(8);
    const res = await fetch(`${sluice.dataUrl}/v2/models/iris-traced/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-a1b2c3d4e5f60718-01` },
      body: JSON.stringify({ inputs: [rowsTensor('input-0', expected.inputs)] }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const gw = await gatewaySpans.waitForTrace(traceId, (s) => s.some((x) => x.kind === 'SPAN_KIND_SERVER'), 20_000);
    const server = gw.find((s) => s.kind === 'SPAN_KIND_SERVER')!;
    const client = gw.find((s) => s.kind === 'SPAN_KIND_CLIENT')!;
    expect(server.parentSpanId).toBe('a1b2c3d4e5f60718');
    expect(server.name).toBe('POST /v2/models/{model}/infer');
    expect(gw.find((s) => s.name === HOLD_SPAN)?.attributes['sluice.cold_start']).toBe(true);
    // MLServer exports on its own schedule (BatchSpanProcessor, 200 ms here).
    const rt = await waitUntil('MLServer’s spans of the trace', () => {
      const spans = runtimeSpans.trace(traceId);
      return spans.some((s) => s.kind === 'SPAN_KIND_SERVER') && spans;
    }, 30_000);
    const mlserver = rt.find((s) => s.kind === 'SPAN_KIND_SERVER')!;
    expect(mlserver.parentSpanId).toBe(client.spanId);
    expect(mlserver.resource['service.name']).toBe('mlserver');
    expect(new Set([...gw, ...rt].map((s) => s.traceId))).toEqual(new Set([traceId]));
  });
});
