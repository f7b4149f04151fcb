/**
 * Traffic per component (docs/transformer.md, docs/traffic.md): the traffic commands and `rollout:` act on the
 * transformer's own revisions while the predictor stays where it is — real sockets, the chain fixture as the
 * transformer (a KServe-contract process that calls the predictor through the gateway) and the demo runtime as
 * the predictor.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { adminCall, cliTarget, configFolder, startTestSluice } from '../support/embedded.js';
import { sluiceCli } from '../support/cli.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { waitUntil } from '../support/wait.js';

const COMPONENT = join(SLUICE_ROOT, 'test', 'fixtures', 'chain', 'component.mjs');
const IRIS = join(SLUICE_ROOT, 'examples', 'models', 'iris');
const BASE = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';
const ROWS = { rows: [[6.8, 2.8, 4.8, 1.4]] };

interface ComponentStatus {
  latestReadyRevision?: string;
  traffic: Array<{ revisionName: string; percent: number; tag?: string }>;
  rollout?: { phase: string; step: number; message: string };
}
interface Status {
  components: Record<string, ComponentStatus>;
  conditions: Array<{ type: string; status: string; reason?: string }>;
}

/** A service whose transformer answers with `label`; `transformer` adds fields under spec.transformer. */
function service(name: string, label: string, transformer: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name },
    spec: {
      predictor: { minReplicas: 1, model: { modelFormat: { name: 'sklearn' }, runtime: 'sluice-demo', storageUri: `file://${IRIS}` } },
      transformer: {
        minReplicas: 1,
        ...transformer,
        containers: [
          { name: 'kserve-container', image: 'example.com/t:1', command: [process.execPath, COMPONENT], args: ['--role', 'transformer'], env: [{ name: 'LABEL', value: label }] },
        ],
      },
    },
  };
}

/** POSTs to the service's URL (path routing by model name reaches the transformer). */
function predict(sluice: Embedded, name: string): Promise<{ status: number; body: { transformer?: string; predictions?: number[] } }> {
  return new Promise((resolve, reject) => {
    const req = request(`${sluice.dataUrl}/v1/models/${name}:predict`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as never }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(ROWS));
  });
}

/** `n` requests one after another; how many answers each transformer label gave (any non-200 fails the test). */
async function labels(sluice: Embedded, name: string, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await predict(sluice, name);
    expect(r).toMatchObject({ status: 200, body: { predictions: [1] } });
    const l = r.body.transformer ?? '?';
    out[l] = (out[l] ?? 0) + 1;
  }
  return out;
}

describe('traffic per component: the transformer', () => {
  let sluice: Embedded;
  const status = async (name: string): Promise<Status> => (await adminCall<{ status: Status }>(sluice, 'GET', `${BASE}/${name}`)).body.status;
  const split = (c: ComponentStatus): Array<[string, number]> => c.traffic.map((t) => [t.revisionName, t.percent]);
  const cli = (args: string[]): ReturnType<typeof sluiceCli> => sluiceCli([...args, ...cliTarget(sluice)]);

  beforeAll(async () => {
    sluice = await startTestSluice(configFolder({}), { rolloutTickSeconds: 0.25 });
  });
  afterAll(async () => {
    await sluice?.close();
  });

  it('canary 90/10 on the transformer with the predictor at 100 %, then promote and rollback of the transformer (CLI)', async () => {
    expect((await adminCall(sluice, 'POST', BASE, service('tcan', 't1'))).status).toBe(201);
    await waitUntil('t1 ready', async () => (await status('tcan')).components.transformer?.latestReadyRevision === 'tcan-transformer-00001', 30_000, 100);
    expect(await labels(sluice, 'tcan', 5)).toEqual({ t1: 5 });
    // A new transformer revision held at 0 % until the canary is set by hand.
    expect((await adminCall(sluice, 'PUT', `${BASE}/tcan`, service('tcan', 't2', { canaryTrafficPercent: 0 }))).status).toBe(200);
    await waitUntil('t2 ready', async () => (await status('tcan')).components.transformer?.latestReadyRevision === 'tcan-transformer-00002', 30_000, 100);

    const canary = await cli(['traffic', 'tcan', '--component', 'transformer', '--canary', '10']);
    expect(canary).toMatchObject({
      code: 0,
      stdout: 'inferenceservice.serving.kserve.io/tcan transformer traffic: tcan-transformer-00002=10%, tcan-transformer-00001=90% (tag prev)\n',
    });
    // The round-robin is exact over 100 requests.
    expect(await labels(sluice, 'tcan', 100)).toEqual({ t1: 90, t2: 10 });
    let st = await status('tcan');
    expect(split(st.components.predictor!)).toEqual([['tcan-predictor-00001', 100]]);
    expect(split(st.components.transformer!)).toEqual([
      ['tcan-transformer-00002', 10],
      ['tcan-transformer-00001', 90],
    ]);

    const promoted = await cli(['promote', 'tcan', '--component', 'transformer']);
    expect(promoted).toMatchObject({ code: 0, stdout: 'inferenceservice.serving.kserve.io/tcan transformer traffic: tcan-transformer-00002=100%\n' });
    expect(await labels(sluice, 'tcan', 20)).toEqual({ t2: 20 });

    const back = await cli(['rollback', 'tcan', '--component', 'transformer']);
    expect(back).toMatchObject({
      code: 0,
      stdout: 'inferenceservice.serving.kserve.io/tcan transformer traffic: tcan-transformer-00002=0%, tcan-transformer-00001=100% (tag prev)\n',
    });
    expect(await labels(sluice, 'tcan', 20)).toEqual({ t1: 20 });
    st = await status('tcan');
    expect(split(st.components.predictor!)).toEqual([['tcan-predictor-00001', 100]]);
    // The predictor's traffic fields were never touched; the transformer's hold the rollback.
    const spec = (await adminCall<{ spec: Record<string, Record<string, unknown>> }>(sluice, 'GET', `${BASE}/tcan`)).body.spec;
    expect(spec.predictor!.canaryTrafficPercent).toBeUndefined();
    expect(spec.transformer!.canaryTrafficPercent).toBe(0);

    // The predictor has one revision: its rollback is refused, naming it; a bad component is refused by the CLI.
    expect(await cli(['rollback', 'tcan'])).toMatchObject({ code: 1, stderr: 'error: nothing to roll back to: default/tcan has no earlier rolled-out revision\n' });
    expect(await cli(['promote', 'tcan', '--component', 'transfomer'])).toMatchObject({
      code: 1,
      stderr: 'error: --component: "transfomer" is not one of predictor, transformer, explainer\n',
    });
    // The API body's `component` is checked too.
    const bad = await adminCall<{ message: string }>(sluice, 'POST', `${BASE}/tcan/traffic`, { op: 'promote', component: 'router' });
    expect(bad).toMatchObject({ status: 400, body: { message: 'component must be one of predictor, transformer, explainer, got "router"' } });
  }, 120_000);

  it('a progressive rollout: on the transformer steps through its canary under load and promotes it', async () => {
    const policy = { rollout: { steps: [50], dwellSeconds: 1, minRequests: 10, maxP99Ratio: 50 } };
    expect((await adminCall(sluice, 'POST', BASE, service('troll', 'r1', policy))).status).toBe(201);
    await waitUntil('r1 ready', async () => (await status('troll')).components.transformer?.latestReadyRevision === 'troll-transformer-00001', 30_000, 100);
    expect((await adminCall(sluice, 'PUT', `${BASE}/troll`, service('troll', 'r2', policy))).status).toBe(200);
    const stepping = await waitUntil(
      // Until the canary is ready its share resolves to the rolled-out revision (KServe's rule).
      'the transformer rollout at step 50 % on the ready canary',
      async () => {
        const s = await status('troll');
        return s.components.transformer?.rollout?.phase === 'Progressing' && s.components.transformer.traffic.some((t) => t.percent === 50 && t.revisionName === 'troll-transformer-00002') ? s : undefined;
      },
      30_000,
      100,
    );
    expect(split(stepping.components.transformer!)).toEqual([
      ['troll-transformer-00002', 50],
      ['troll-transformer-00001', 50],
    ]);
    expect(split(stepping.components.predictor!)).toEqual([['troll-predictor-00001', 100]]);
    // Evidence for the gate: requests through the split reach both revisions.
    const seen: Record<string, number> = {};
    const done = await waitUntil(
      'the transformer rollout to succeed',
      async () => {
        for (const [k, v] of Object.entries(await labels(sluice, 'troll', 10))) seen[k] = (seen[k] ?? 0) + v;
        const s = await status('troll');
        return s.components.transformer?.rollout?.phase === 'Succeeded' ? s : undefined;
      },
      30_000,
      10,
    );
    expect(seen.r1).toBeGreaterThanOrEqual(10);
    expect(seen.r2).toBeGreaterThanOrEqual(10);
    expect(split(done.components.transformer!)).toEqual([['troll-transformer-00002', 100]]);
    expect(done.conditions.find((c) => c.type === 'TransformerRolloutSucceeded')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(await labels(sluice, 'troll', 10)).toEqual({ r2: 10 });
  }, 120_000);
});
