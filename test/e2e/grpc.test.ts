import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { inferRequest, oipClient, oipRuntimeYaml, oipService, unary, type InferReply, type StreamReply } from '../support/grpc/oip-client.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-grpc-'));
const events = (name: string): string => join(dir, `${name}.events`);
const eventLines = (name: string): string[] => (existsSync(events(name)) ? readFileSync(events(name), 'utf8').trim().split('\n') : []);

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts at zero replicas (no initial replica), so the first call is a cold start. */
const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };

let s: Embedded;
let address: string;
let client: grpc.Client;

beforeAll(async () => {
  writeFileSync(join(dir, 'runtime.yaml'), oipRuntimeYaml());
  writeFileSync(join(dir, 'echo.yaml'), oipService('echo', { annotations: ZERO, env: { OIP_EVENTS: events('echo'), REPLY_TAG: 'v1' } }));
  writeFileSync(join(dir, 'held.yaml'), oipService('held', { annotations: ZERO, env: { START_DELAY_MS: '3000' } }));
  s = await startTestSluice(dir, { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5, grpcPort: 0 });
  address = new URL(s.dataUrl).host;
  client = oipClient(address);
}, 60_000);

afterAll(async () => {
  client?.close();
  await s?.close();
});

describe('gRPC through Sluice (grpc-js client, OIP runtime replica)', () => {
  it('holds the first call while the revision starts from zero, then answers it (routed by model name)', async () => {
    const r = await unary<InferReply>(client, 'ModelInfer', inferRequest('echo', [1, 2.5], 'first'), { metadata: { 'x-echo': 'hello' } });
    expect(r.err).toBeNull();
    expect(r.reply!.model_name).toBe('echo');
    expect(r.reply!.id).toBe('first');
    expect(r.reply!.outputs[0]!.contents.fp32_contents).toEqual([2, 5]);
    // Metadata and trailers pass through; the cold start is told in the initial metadata.
    expect(r.metadata!.get('x-echo')).toEqual(['hello']);
    expect(Number(r.metadata!.get('x-sluice-cold-start')[0])).toBeGreaterThan(0);
    expect(r.trailers!.get('x-served-by')).toHaveLength(1);
  }, 30_000);

  it('answers an unknown model NOT_FOUND, naming it', async () => {
    const r = await unary(client, 'ModelInfer', inferRequest('nosuch', [1]));
    expect(r.err?.code).toBe(grpc.status.NOT_FOUND);
    expect(r.err?.details).toContain('no InferenceService serves model "nosuch"');
  });

  it('answers server-level calls itself, and routes by :authority (host) too', async () => {
    const live = await unary<{ live: boolean }>(client, 'ServerLive', {});
    expect(live.reply).toEqual({ live: true });
    const meta = await unary<{ name: string }>(client, 'ServerMetadata', {});
    expect(meta.reply!.name).toBe('sluice');
    // With the service's host as :authority, ServerLive reaches the runtime's own server.
    const byHost = oipClient(address, 'echo.default.example.com');
    try {
      const m = await unary<{ name: string }>(byHost, 'ServerMetadata', {});
      expect(m.err).toBeNull();
      expect(m.reply!.name).toBe('oip-test');
    } finally {
      byHost.close();
    }
  }, 30_000);

  it('answers DEADLINE_EXCEEDED when a call is held past its grpc-timeout (trailers-only, a message naming the cause)', async () => {
    // A raw HTTP/2 client, so the deadline is the gateway's and not the client library's.
    const session = connect(s.dataUrl);
    try {
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 6]), Buffer.from([0x0a, 0x04]), Buffer.from('held')]);
      const stream = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelInfer', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '300m' });
      stream.end(frame);
      const headers = await new Promise<Record<string, unknown>>((resolve) => stream.on('response', (h) => resolve(h)));
      expect(headers[':status']).toBe(200);
      expect(headers['grpc-status']).toBe(String(grpc.status.DEADLINE_EXCEEDED));
      expect(decodeURIComponent(String(headers['grpc-message']))).toMatch(/held|waited|deadline|timeout/i);
    } finally {
      session.close();
    }
  }, 30_000);

  it('passes a bidirectional stream through with its metadata and trailers', async () => {
    const md = new grpc.Metadata();
    md.set('x-echo', 'streamed');
    const call = (client as unknown as Record<string, (m: grpc.Metadata) => grpc.ClientDuplexStream<object, StreamReply>>)['ModelStreamInfer']!.call(client, md);
    const replies: StreamReply[] = [];
    let metadata: grpc.Metadata | null = null;
    call.on('metadata', (m) => (metadata = m));
    call.on('data', (r: StreamReply) => replies.push(r));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    for (let i = 1; i <= 3; i++) call.write(inferRequest('echo', [i], `s${i}`));
    call.end();
    const st = await status;
    expect(st.code).toBe(grpc.status.OK);
    expect(replies.map((r) => r.infer_response.outputs[0]!.contents.fp32_contents[0])).toEqual([2, 4, 6]);
    expect(metadata!.get('x-echo')).toEqual(['streamed']);
    expect(st.metadata.get('x-stream-count')).toEqual(['3']);
  }, 30_000);

  it('passes an application error through as its own status', async () => {
    const r = await unary(client, 'ModelInfer', inferRequest('echo', [1], 'fail'));
    expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.err?.details).toBe('asked to fail');
  });

  it('cancels the replica\'s call when the client cancels', async () => {
    const r = await unary(client, 'ModelInfer', inferRequest('echo', [1], 'sleep:5000'), {
      onCall: (call) => setTimeout(() => call.cancel(), 300),
    });
    expect(r.err?.code).toBe(grpc.status.CANCELLED);
    await until('the replica to see the cancellation', () => (eventLines('echo').includes('cancelled sleep:5000') ? true : undefined), 4000);
  }, 30_000);

  it('answers UNAVAILABLE to the calls of a replica killed mid-call, and the next call is served', async () => {
    const pid = Number(eventLines('echo').filter((l) => l.startsWith('started '))[0]!.split(' ')[1]);
    const r = await unary(client, 'ModelInfer', inferRequest('echo', [1], 'sleep:5000'), {
      onCall: () => setTimeout(() => process.kill(pid, 'SIGKILL'), 300),
    });
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.details).toMatch(/replica .*echo-predictor-00001/);
    const next = await unary<InferReply>(client, 'ModelInfer', inferRequest('echo', [4], 'after'));
    expect(next.err).toBeNull();
    expect(next.reply!.outputs[0]!.contents.fp32_contents).toEqual([8]);
  }, 60_000);

  it('answers a request message over grpcMaxMessageBytes RESOURCE_EXHAUSTED, naming the setting', async () => {
    const big = inferRequest('echo', [], 'big') as { inputs: Array<{ contents: { fp32_contents: number[] } }> };
    big.inputs[0]!.contents.fp32_contents = new Array(1_100_000).fill(1);
    const r = await unary(client, 'ModelInfer', big);
    expect(r.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(r.err?.details).toContain('grpcMaxMessageBytes');
  }, 30_000);

  it('splits a 90/10 canary under concurrent gRPC load within 1 pp', async () => {
    writeFileSync(join(dir, 'split.yaml'), oipService('split', { env: { REPLY_TAG: 'v1' }, predictor: { minReplicas: 1 } }));
    const split = oipClient(address, 'split.default.example.com');
    try {
      await until('the split service', async () => ((await unary(split, 'ModelInfer', inferRequest('split', [1]))).err === null ? true : undefined));
      writeFileSync(join(dir, 'split.yaml'), oipService('split', { env: { REPLY_TAG: 'v2' }, predictor: { minReplicas: 1, canaryTrafficPercent: 10 } }));
      await until('the canary to take traffic', async () => {
        const r = await unary<InferReply>(split, 'ModelInfer', inferRequest('split', [1]));
        return r.reply?.model_version === 'v2' ? true : undefined;
      });
      const counts: Record<string, number> = {};
      const total = 1000;
      for (let batch = 0; batch < total / 50; batch++) {
        const rs = await Promise.all(Array.from({ length: 50 }, () => unary<InferReply>(split, 'ModelInfer', inferRequest('split', [1]))));
        for (const r of rs) {
          expect(r.err).toBeNull();
          counts[r.reply!.model_version] = (counts[r.reply!.model_version] ?? 0) + 1;
        }
      }
      expect(Math.abs((counts['v2'] ?? 0) / total - 0.1)).toBeLessThanOrEqual(0.01);
    } finally {
      split.close();
    }
  }, 90_000);

  it('counts gRPC calls in the revision\'s metrics, by the HTTP status they map to', async () => {
    const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
    expect(metricValue(text, 'sluice_requests_total', { revision: 'echo-predictor-00001', code: '200' })).toBeGreaterThanOrEqual(3);
    // INVALID_ARGUMENT from the runtime counts as 400.
    expect(metricValue(text, 'sluice_requests_total', { revision: 'echo-predictor-00001', code: '400' })).toBe(1);
  });

  it('still answers HTTP/1.1 on the same port', async () => {
    const r = await fetch(`${s.dataUrl}/v2/health/live`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ live: true });
  });

  it('takes gRPC on the gRPC-only port too (grpcPort)', async () => {
    const only = oipClient(new URL(s.grpcUrl!).host);
    try {
      const r = await unary<InferReply>(only, 'ModelInfer', inferRequest('echo', [3]));
      expect(r.err).toBeNull();
      expect(r.reply!.outputs[0]!.contents.fp32_contents).toEqual([6]);
    } finally {
      only.close();
    }
  });
});
