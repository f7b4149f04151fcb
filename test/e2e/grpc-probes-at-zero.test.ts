/**
 * gRPC model probes at zero: OIP `ModelReady` and `ModelMetadata` for a revision with no replica are answered by
 * the gateway (as the HTTP model probes are, docs/probes.md) and start no replica process; only metadata never
 * seen wakes the revision once, and its answer is what later probes at zero get. A real `@grpc/grpc-js` client.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import type { LocalBackend } from '../../deploy/backends/local/local-backend.js';
import { startTestSluice } from '../support/embedded.js';
import { oipClient, oipRuntimeYaml, oipService, unary } from '../support/grpc/oip-client.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };
const KEY = 'default/sleepy-predictor-00001';

interface Metadata {
  name: string;
  versions: string[];
  platform: string;
}

describe('gRPC ModelReady and ModelMetadata at zero (grpc-js client)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-grpc-probes-'));
  let s: Embedded;
  let bare: grpc.Client;
  let byHost: grpc.Client;

  const processes = (): number[] => (s.backend as LocalBackend).replicaProcesses(KEY).map((p) => p.pid ?? 0);
  /** Asserts the revision is at zero after the autoscaler has decided at least twice since `since`. */
  const stillAtZero = async (since: number): Promise<void> => {
    await waitUntil(
      'two autoscaler decisions after the probes',
      () => {
        const at = s.autoscaler.status(KEY)?.lastDecision?.at;
        return at !== undefined && Date.parse(at) > since + 1_000;
      },
      10_000,
      50,
    );
    expect(s.backend.counts(KEY)).toEqual({ desired: 0, starting: 0, ready: 0 });
    expect(processes()).toEqual([]);
  };
  const requests = async (): Promise<number> => {
    const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
    // Every series of the revision (one per code): the sum.
    let n = 0;
    for (const code of ['200', '400', '404', '429', '499', '503', '504']) n += metricValue(text, 'sluice_requests_total', { revision: 'sleepy-predictor-00001', code }) ?? 0;
    return n;
  };

  beforeAll(async () => {
    writeFileSync(join(dir, 'runtime.yaml'), oipRuntimeYaml());
    writeFileSync(join(dir, 'sleepy.yaml'), oipService('sleepy', { annotations: ZERO, env: { REPLY_TAG: 'v7' } }));
    s = await startTestSluice(dir, { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 });
    const address = new URL(s.dataUrl).host;
    bare = oipClient(address);
    byHost = oipClient(address, 'sleepy.default.example.com');
  }, 60_000);

  afterAll(async () => {
    bare?.close();
    byHost?.close();
    await s?.close();
  });

  it('ModelReady of a revision that never ran: ready false, answered by the gateway, nothing starts', async () => {
    const since = Date.now();
    for (let i = 0; i < 10; i++) {
      const r = await unary<{ ready: boolean }>(i % 2 === 0 ? bare : byHost, 'ModelReady', { name: 'sleepy', version: '' });
      expect(r.err).toBeNull();
      expect(r.reply).toEqual({ ready: false });
      expect(r.metadata!.get('x-sluice-answered-by')).toEqual(['gateway']);
    }
    await stillAtZero(since);
  }, 30_000);

  it('ModelMetadata never seen wakes the revision once; back at zero, probes are answered from it and wake nothing', async () => {
    const first = await unary<Metadata>(bare, 'ModelMetadata', { name: 'sleepy', version: '' }, { deadlineMs: 30_000 });
    expect(first.err).toBeNull();
    expect(first.reply!.name).toBe('sleepy');
    expect(first.reply!.versions).toEqual(['v7']);
    expect(first.reply!.platform).toMatch(/^oip-test pid \d+$/);
    // It was a cold start: the replica's answer, not the gateway's.
    expect(Number(first.metadata!.get('x-sluice-cold-start')[0])).toBeGreaterThan(0);
    expect(first.metadata!.get('x-sluice-answered-by')).toEqual([]);

    await waitUntil('the revision back at zero', () => s.backend.counts(KEY).ready === 0 && processes().length === 0, 30_000, 100);
    const before = await requests();
    expect(before).toBeGreaterThan(0); // the cold ModelMetadata call above was one
    const since = Date.now();
    for (let i = 0; i < 10; i++) {
      const client = i % 2 === 0 ? bare : byHost;
      const ready = await unary<{ ready: boolean }>(client, 'ModelReady', { name: 'sleepy', version: '' });
      expect(ready.reply).toEqual({ ready: true });
      expect(ready.metadata!.get('x-sluice-answered-by')).toEqual(['gateway']);
      const meta = await unary<Metadata>(client, 'ModelMetadata', { name: 'sleepy', version: '' });
      expect(meta.err).toBeNull();
      // The same answer the replica gave (its pid included), from the gateway.
      expect(meta.reply).toEqual(first.reply);
      expect(meta.metadata!.get('x-sluice-answered-by')).toEqual(['gateway']);
    }
    await stillAtZero(since);
    // Not demand and not requests: like the HTTP probes, they are not counted.
    expect(await requests()).toBe(before);
  }, 60_000);

  it('a probe for another model name, or metadata of a version never seen, goes to the runtime (and wakes it)', async () => {
    const other = await unary<Metadata>(byHost, 'ModelMetadata', { name: 'sleepy', version: '9' }, { deadlineMs: 30_000 });
    expect(other.err).toBeNull();
    expect(Number(other.metadata!.get('x-sluice-cold-start')[0])).toBeGreaterThan(0);
    expect(other.metadata!.get('x-sluice-answered-by')).toEqual([]);
  }, 40_000);
});
