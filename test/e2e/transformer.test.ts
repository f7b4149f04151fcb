/**
 * Transformer and explainer through the local backend (docs/transformer.md): each component has revisions of its
 * own, all start at zero, the first request to the service's URL wakes the transformer and — through the
 * `--predictor_host` Sluice gives it, which routes back through the gateway and activator — the predictor;
 * `:explain` reaches the explainer; each component has its own canary.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { adminCall, configFolder, startTestSluice } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { waitUntil } from '../support/wait.js';

const COMPONENT = join(SLUICE_ROOT, 'test', 'fixtures', 'chain', 'component.mjs');
const IRIS = join(SLUICE_ROOT, 'examples', 'models', 'iris');

function chainService(opts: { transformerLabel: string; transformerCanary?: number }): Record<string, unknown> {
  const custom = (role: string, label: string): Record<string, unknown> => ({
    containers: [{ name: 'kserve-container', image: `example.com/${role}:1`, command: [process.execPath, COMPONENT], args: ['--role', role], env: [{ name: 'LABEL', value: label }] }],
  });
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'chain', annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' } },
    spec: {
      predictor: { minReplicas: 0, model: { modelFormat: { name: 'sklearn' }, runtime: 'sluice-demo', storageUri: `file://${IRIS}` } },
      transformer: { minReplicas: 0, ...(opts.transformerCanary === undefined ? {} : { canaryTrafficPercent: opts.transformerCanary }), ...custom('transformer', opts.transformerLabel) },
      explainer: { minReplicas: 0, ...custom('explainer', 'e1') },
    },
  };
}

const ROWS = { rows: [[6.8, 2.8, 4.8, 1.4]] };

/** POSTs JSON to the data port; node:http, because fetch does not send a Host header of our choosing. */
function post(sluice: Embedded, path: string, body: unknown, host?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${sluice.dataUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(host ? { host } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('transformer and explainer (local backend)', () => {
  let sluice: Embedded;
  const base = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';

  beforeAll(async () => {
    sluice = await startTestSluice(configFolder({}), { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 });
    const r = await adminCall(sluice, 'POST', base, chainService({ transformerLabel: 't1' }));
    expect(r.status).toBe(201);
  });

  afterAll(async () => {
    await sluice?.close();
  });

  it('makes a revision per component, all at zero; the first request wakes the transformer and the predictor', async () => {
    for (const rev of ['chain-predictor-00001', 'chain-transformer-00001', 'chain-explainer-00001'])
      expect(sluice.backend.counts(`default/${rev}`)).toMatchObject({ desired: 0, ready: 0, starting: 0 });
    // Path routing by model name reaches the service's entry: the transformer.
    const first = await post(sluice, '/v1/models/chain:predict', ROWS);
    expect(first).toEqual({ status: 200, body: { transformer: 't1', predictions: [1] } });
    expect(sluice.backend.counts('default/chain-transformer-00001').ready).toBe(1);
    expect(sluice.backend.counts('default/chain-predictor-00001').ready).toBe(1);
    expect(sluice.backend.counts('default/chain-explainer-00001').desired).toBe(0);
    const { body } = await adminCall<{ status: { components: Record<string, Record<string, unknown>>; conditions: Array<{ type: string; status: string }> } }>(sluice, 'GET', `${base}/chain`);
    expect(body.status.components.transformer).toMatchObject({
      url: expect.stringMatching(/^http:\/\/chain-transformer\.default\.example\.com/),
      latestCreatedRevision: 'chain-transformer-00001',
      latestReadyRevision: 'chain-transformer-00001',
      traffic: [{ revisionName: 'chain-transformer-00001', percent: 100, latestRevision: true }],
    });
    expect(body.status.components.explainer).toMatchObject({ latestCreatedRevision: 'chain-explainer-00001' });
    expect(body.status.conditions.find((c) => c.type === 'TransformerReady')?.status).toBe('True');
  });

  it('routes as KServe does: service host → transformer, -predictor host → predictor, :explain → explainer', async () => {
    expect(await post(sluice, '/v1/models/chain:predict', ROWS, 'chain.default.example.com')).toEqual({ status: 200, body: { transformer: 't1', predictions: [1] } });
    // The predictor's own host skips the transformer (so it takes the predictor's request shape).
    expect(await post(sluice, '/v1/models/chain:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] }, 'chain-predictor.default.example.com')).toEqual({
      status: 200,
      body: { predictions: [0] },
    });
    expect(await post(sluice, '/serving/default/chain-predictor/v1/models/chain:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] })).toEqual({
      status: 200,
      body: { predictions: [0] },
    });
    const explained = await post(sluice, '/v1/models/chain:explain', ROWS, 'chain.default.example.com');
    expect(explained).toEqual({ status: 200, body: { explainer: 'e1', predictions: [1], explanations: ['class 1'] } });
    expect(sluice.backend.counts('default/chain-explainer-00001').ready).toBe(1);
    expect((await post(sluice, '/v1/models/chain:explain', ROWS)).body).toMatchObject({ explainer: 'e1' });
  });

  it('gives the transformer its own canary: a new transformer revision at 30 %, the predictor untouched', async () => {
    const r = await adminCall(sluice, 'PUT', `${base}/chain`, chainService({ transformerLabel: 't2', transformerCanary: 30 }));
    expect(r.status).toBe(200);
    await waitUntil('the new transformer revision is ready', () => sluice.backend.counts('default/chain-transformer-00002').ready > 0, 30_000);
    const { body } = await adminCall<{ status: { components: Record<string, { traffic: unknown[]; latestCreatedRevision: string }> } }>(sluice, 'GET', `${base}/chain`);
    await waitUntil('the transformer split is 30/70', async () => {
      const s = await adminCall<{ status: { components: Record<string, { traffic: Array<{ percent: number }> }> } }>(sluice, 'GET', `${base}/chain`);
      return s.body.status.components.transformer!.traffic.length === 2;
    }, 10_000);
    const now = await adminCall<{ status: { components: Record<string, { traffic: unknown[]; latestCreatedRevision: string }> } }>(sluice, 'GET', `${base}/chain`);
    expect(now.body.status.components.transformer!.traffic).toEqual([
      expect.objectContaining({ revisionName: 'chain-transformer-00002', percent: 30, latestRevision: true }),
      expect.objectContaining({ revisionName: 'chain-transformer-00001', percent: 70, tag: 'prev' }),
    ]);
    expect(body.status.components.predictor!.latestCreatedRevision).toBe('chain-predictor-00001');
    expect(now.body.status.components.predictor!.traffic).toEqual([expect.objectContaining({ revisionName: 'chain-predictor-00001', percent: 100 })]);
    // Tag hosts pick one transformer revision; the weighted split reaches both.
    expect((await post(sluice, '/v1/models/chain:predict', ROWS, 'prev-chain.default.example.com')).body).toEqual({ transformer: 't1', predictions: [1] });
    expect((await post(sluice, '/v1/models/chain:predict', ROWS, 'prev-chain-transformer.default.example.com')).body).toEqual({ transformer: 't1', predictions: [1] });
    const labels = new Set<unknown>();
    for (let i = 0; i < 60 && labels.size < 2; i++) labels.add((await post(sluice, '/v1/models/chain:predict', ROWS)).body.transformer);
    expect([...labels].sort()).toEqual(['t1', 't2']);
  });

  it('returns every component to zero when idle', async () => {
    const revisions = ['chain-predictor-00001', 'chain-transformer-00001', 'chain-transformer-00002', 'chain-explainer-00001'];
    await waitUntil('every component is at zero', () => revisions.every((r) => sluice.backend.counts(`default/${r}`).ready + sluice.backend.counts(`default/${r}`).starting === 0), 60_000);
    for (const r of revisions) expect(sluice.backend.counts(`default/${r}`).desired).toBe(0);
  });
});
